import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One JSON object per log line on stderr: `time` (ISO 8601, UTC, milliseconds), `level`, `logger` (the label),
/// `message`, `source`, then every metadata key (`job`, `shard`, `attempt`, `worker`, `session`, …) at the top
/// level, so a collector can filter on them without parsing the message. Each line goes out in one `write(2)`,
/// so lines from several threads never interleave.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Keys the record itself uses; metadata with these names is kept under `metadata` instead.
    static let reservedKeys: Set<String> = ["time", "level", "logger", "message", "source", "error"]

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var record: [String: Any] = [
            "time": Self.timestamp(),
            "level": event.level.rawValue,
            "logger": label,
            "message": "\(event.message)",
            "source": event.source,
        ]
        if let error = event.error { record["error"] = "\(error)" }
        var nested: [String: Any] = [:]
        for (key, value) in merged {
            if Self.reservedKeys.contains(key) { nested[key] = Self.json(value) } else { record[key] = Self.json(value) }
        }
        if !nested.isEmpty { record["metadata"] = nested }
        guard var line = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 { if errno == EINTR { continue } else { return } }
                offset += written
            }
        }
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let dictionary): dictionary.mapValues(json)
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1_000_000))
    }
}
