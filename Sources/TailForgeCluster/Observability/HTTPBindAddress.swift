import Foundation

/// Where a daemon serves HTTP (`--metrics-bind`, `--http-bind`): `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT`
/// meaning loopback. Port 0 picks a free port (the daemon writes the one it got to a file, see
/// ``ObservabilityServer``).
public struct HTTPBindAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses the flag's value; `flag` names the option in the error (`--metrics-bind`).
    public init(parsing text: String, flag: String) throws(HTTPBindError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.contains("://") {
            throw HTTPBindError(flag: flag, value: text, reason: "give HOST:PORT without a scheme, e.g. 127.0.0.1:9100")
        }
        var host = "127.0.0.1"
        var portText = trimmed
        if trimmed.hasPrefix("[") {
            // [::1]:9100
            guard let close = trimmed.firstIndex(of: "]"), trimmed[trimmed.index(after: close)...].hasPrefix(":") else {
                throw HTTPBindError(flag: flag, value: text, reason: "an IPv6 address is written [ADDRESS]:PORT, e.g. [::1]:9100")
            }
            host = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            portText = String(trimmed[trimmed.index(close, offsetBy: 2)...])
        } else if let colon = trimmed.lastIndex(of: ":") {
            host = String(trimmed[..<colon])
            portText = String(trimmed[trimmed.index(after: colon)...])
            if host.contains(":") {
                throw HTTPBindError(flag: flag, value: text, reason: "an IPv6 address is written [ADDRESS]:PORT, e.g. [::1]:9100")
            }
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-_:".contains($0) }) else {
            throw HTTPBindError(flag: flag, value: text, reason: "'\(host)' is not a host name or address; give HOST:PORT, e.g. 127.0.0.1:9100 (or 0.0.0.0:9100 for every interface)")
        }
        guard let port = Int(portText), (0...65_535).contains(port) else {
            throw HTTPBindError(flag: flag, value: text, reason: "'\(portText)' is not a port (0–65535; 0 picks a free one); give HOST:PORT, e.g. 127.0.0.1:9100")
        }
        self.init(host: host, port: port)
    }

    /// True when only this machine can connect: `localhost`, 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A `--metrics-bind` / `--http-bind` value that is not `HOST:PORT`.
public struct HTTPBindError: Error, CustomStringConvertible, Equatable {
    public var flag: String
    public var value: String
    public var reason: String
    public var description: String { "\(flag) '\(value)': \(reason)" }
}
