import Foundation

/// What a committed job actually did, written next to its output as `OUT.manifest.json`; `tailforge replay`
/// reruns `manifest` and compares the new output with `outputSHA256`.
public struct ResolvedManifest: Codable, Sendable, Equatable {
    public struct Shard: Codable, Sendable, Equatable {
        public var index: Int
        public var classes: [Int]
        public var rows: Int
        public var estimatedCost: Double
        public var sha256: String
        public var seconds: Double
        /// Size of the shard file (nil for a shard committed before a coordinator restart).
        public var bytes: Int64?
    }

    public var job: String
    public var toolVersion: String
    public var manifest: JobManifest
    public var inputSHA256: String
    public var outputSHA256: String
    public var fallbackKappa: Double?
    public var shards: [Shard]
    public var stageSeconds: [String: Double]
    public var totalSeconds: Double
    public var submitted: Date

    /// `OUT.manifest.json` for output `OUT.h5` (the extension is replaced).
    public static func path(forOutput output: String) -> String {
        ((output as NSString).deletingPathExtension) + ".manifest.json"
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func read(from path: String) throws -> ResolvedManifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(ResolvedManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
