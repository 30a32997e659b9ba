import VolScaleCore

// A margin model as JSON: what a store keeps of the venue's policies, so that every process
// that resumes the store (`serve`, `ingest`, `replay`, a restart, a cluster takeover) margins
// each asset by the model that published its last rates. Decoding goes through the
// validating initialisers: a stored model out of range is refused with the field named,
// never run. (The enums they hold are Codable where they are declared; their values are
// checked by the initialisers of the controls and the model that hold them.)

extension CoverageCalibration: Codable {
    enum CodingKeys: String, CodingKey { case target, halfLife, gain, minimum, maximum }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            target: c.decode(Double.self, forKey: .target), halfLife: c.decode(Double.self, forKey: .halfLife),
            gain: c.decode(Double.self, forKey: .gain), minimum: c.decode(Double.self, forKey: .minimum),
            maximum: c.decode(Double.self, forKey: .maximum))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(target, forKey: .target)
        try c.encode(halfLife, forKey: .halfLife)
        try c.encode(gain, forKey: .gain)
        try c.encode(minimum, forKey: .minimum)
        try c.encode(maximum, forKey: .maximum)
    }
}

extension MarginControls: Codable {
    enum CodingKeys: String, CodingKey {
        case buffer, bufferRebuildRate, stressedWeight, stressedPeriod, floorLookback, speedLimitUp, speedLimitDown
        case smoothing, floorFraction, calibration, riseLimit, riseBars, corridor, hardFloor, hardCap, maintenance
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            buffer: c.decodeIfPresent(Double.self, forKey: .buffer),
            bufferRebuildRate: c.decode(Double.self, forKey: .bufferRebuildRate),
            stressedWeight: c.decodeIfPresent(Double.self, forKey: .stressedWeight),
            stressedPeriod: c.decode(StressedPeriod.self, forKey: .stressedPeriod),
            floorLookback: c.decodeIfPresent(Int.self, forKey: .floorLookback),
            speedLimitUp: c.decodeIfPresent(Double.self, forKey: .speedLimitUp),
            speedLimitDown: c.decodeIfPresent(Double.self, forKey: .speedLimitDown),
            smoothing: c.decodeIfPresent(Double.self, forKey: .smoothing),
            floorFraction: c.decode(Double.self, forKey: .floorFraction),
            calibration: c.decodeIfPresent(CoverageCalibration.self, forKey: .calibration),
            riseLimit: c.decodeIfPresent(Double.self, forKey: .riseLimit),
            riseBars: c.decode(Int.self, forKey: .riseBars),
            corridor: c.decodeIfPresent(Double.self, forKey: .corridor),
            hardFloor: c.decodeIfPresent(Double.self, forKey: .hardFloor),
            hardCap: c.decodeIfPresent(Double.self, forKey: .hardCap),
            maintenance: c.decode(MaintenanceRule.self, forKey: .maintenance))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(buffer, forKey: .buffer)
        try c.encode(bufferRebuildRate, forKey: .bufferRebuildRate)
        try c.encodeIfPresent(stressedWeight, forKey: .stressedWeight)
        try c.encode(stressedPeriod, forKey: .stressedPeriod)
        try c.encodeIfPresent(floorLookback, forKey: .floorLookback)
        try c.encodeIfPresent(speedLimitUp, forKey: .speedLimitUp)
        try c.encodeIfPresent(speedLimitDown, forKey: .speedLimitDown)
        try c.encodeIfPresent(smoothing, forKey: .smoothing)
        try c.encode(floorFraction, forKey: .floorFraction)
        try c.encodeIfPresent(calibration, forKey: .calibration)
        try c.encodeIfPresent(riseLimit, forKey: .riseLimit)
        try c.encode(riseBars, forKey: .riseBars)
        try c.encodeIfPresent(corridor, forKey: .corridor)
        try c.encodeIfPresent(hardFloor, forKey: .hardFloor)
        try c.encodeIfPresent(hardCap, forKey: .hardCap)
        try c.encode(maintenance, forKey: .maintenance)
    }
}

extension MarginModel: Codable {
    enum CodingKeys: String, CodingKey {
        case name, volatility, measure, method, nu, useFittedNu, confidence, mpor, lookback, controls, impliedWeight
        case testConfidence, fitWindow
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            name: c.decode(String.self, forKey: .name), volatility: c.decode(VolatilitySpec.self, forKey: .volatility),
            measure: c.decode(TailMeasure.self, forKey: .measure), method: c.decode(RiskMethod.self, forKey: .method),
            nu: c.decodeIfPresent(Double.self, forKey: .nu), useFittedNu: c.decode(Bool.self, forKey: .useFittedNu),
            confidence: c.decode(Double.self, forKey: .confidence), mpor: c.decode(Int.self, forKey: .mpor),
            lookback: c.decode(Int.self, forKey: .lookback), controls: c.decode(MarginControls.self, forKey: .controls),
            impliedWeight: c.decodeIfPresent(Double.self, forKey: .impliedWeight),
            testConfidence: c.decodeIfPresent(Double.self, forKey: .testConfidence),
            fitWindow: c.decodeIfPresent(Int.self, forKey: .fitWindow))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(volatility, forKey: .volatility)
        try c.encode(measure, forKey: .measure)
        try c.encode(method, forKey: .method)
        try c.encodeIfPresent(nu, forKey: .nu)
        try c.encode(useFittedNu, forKey: .useFittedNu)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(mpor, forKey: .mpor)
        try c.encode(lookback, forKey: .lookback)
        try c.encode(controls, forKey: .controls)
        try c.encodeIfPresent(impliedWeight, forKey: .impliedWeight)
        try c.encodeIfPresent(testConfidence, forKey: .testConfidence)
        try c.encodeIfPresent(fitWindow, forKey: .fitWindow)
    }
}
