import Foundation

/// A job manifest that cannot be used: which file (or job), which line and key, and a sentence saying what is
/// wrong and which values are allowed.
public struct ManifestError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The manifest file, or a description of where the manifest came from (`job job-…`, `the submitted job`).
    public var source: String
    /// 1-based line in `source`, when the manifest was read from a file.
    public var line: Int?
    /// The dotted key the problem is about (`sharding.max_attempts`), if any.
    public var key: String?
    /// One or more sentences: what is wrong and what is allowed instead.
    public var reason: String

    public init(source: String, line: Int? = nil, key: String? = nil, reason: String) {
        self.source = source; self.line = line; self.key = key; self.reason = reason
    }

    public var description: String {
        "\(source)\(line.map { ", line \($0)" } ?? ""): \(reason)"
    }
}

extension ManifestError {
    /// A JSON decoding failure (a resolved manifest, a journaled manifest) as a sentence naming the key, not a
    /// `DecodingError` dump.
    public init(source: String, decoding error: any Error) {
        guard let error = error as? DecodingError else {
            self.init(source: source, reason: "cannot be read: \(error.localizedDescription)")
            return
        }
        func key(_ path: [any CodingKey]) -> String {
            path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let missing, let context):
            let path = key(context.codingPath + [missing])
            self.init(source: source, key: path, reason: "`\(path)` is missing.")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let path = key(context.codingPath)
            self.init(source: source, key: path, reason: "`\(path)` must be \(Self.describe(type)).")
        case .dataCorrupted(let context):
            let path = key(context.codingPath)
            self.init(source: source, key: path.isEmpty ? nil : path,
                      reason: path.isEmpty ? "is not valid JSON." : "`\(path)`: \(context.debugDescription).")
        @unknown default:
            self.init(source: source, reason: "cannot be read.")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "`true` or `false`"
        case is Int.Type, is Int64.Type, is UInt64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "a list"
        default: "a \(type)"
        }
    }
}
