import VolScaleCLI

VolScaleCommand.main()
