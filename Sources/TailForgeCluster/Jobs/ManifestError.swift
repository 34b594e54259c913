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
