enum Dashboard { static let html = ""; static let script = "" }
