import ArgumentParser
import TailForgeCluster

/// Ranges of the numeric flags that are not policy settings (those are checked by the library types that own
/// them). Each bound keeps the value representable where it is used and far beyond any sensible choice.
enum CommandLimits {
    /// Threads: each is a real OS thread with its own buffers.
    static let threads = 1...1024
    /// Embedding dimension of generated data.
    static let dimension = 2...65_536
    /// Local worker processes the demo starts.
    static let workers = 1...64

    /// Throws a `ValidationError` naming the flag unless `value` is in `range`. A range open at the top
    /// (`0...Int.max`) reads "0 or more": its bound is the type's limit, not a choice worth printing.
    static func check(_ flag: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            let allowed = range.upperBound == Int.max ? "\(range.lowerBound) or more" : "from \(range.lowerBound) to \(range.upperBound)"
            throw ValidationError("--\(flag) must be \(allowed), got \(value)")
        }
    }

    /// Throws unless `value` is a finite number in `range` (NaN fails every comparison, so it is named).
    static func check(_ flag: String, _ value: Double, in range: ClosedRange<Double>, meaning: String) throws {
        guard value.isFinite, range.contains(value) else {
            throw ValidationError("--\(flag) must be \(meaning), got \(value)")
        }
    }

    /// Throws unless `endpoint` is a ZeroMQ endpoint a worker can connect to. An empty one is what a daemon gets from
    /// an unset variable (systemd's `${TAILFORGE_COORDINATOR}`), so the message says where the value comes from.
    static func checkEndpoint(_ flag: String, _ endpoint: String, setBy source: String) throws {
        if endpoint.allSatisfy(\.isWhitespace) {
            throw ValidationError("--\(flag) is empty: give the coordinator's endpoint, for example tcp://coordinator.example:5555 (\(source))")
        }
        guard endpoint.hasPrefix("tcp://") || endpoint.hasPrefix("ipc://") else {
            throw ValidationError("--\(flag) must be a ZeroMQ endpoint such as tcp://HOST:5555, got '\(endpoint)' (\(source))")
        }
    }

    /// Parses an optional `--metrics-bind` / `--http-bind` value, as a `ValidationError` (usage, exit 64) when it is not HOST:PORT.
    static func bindAddress(_ value: String?, flag: String) throws -> HTTPBindAddress? {
        guard let value else { return nil }
        do { return try HTTPBindAddress(parsing: value, flag: flag) } catch { throw ValidationError(error.description) }
    }
}
