import Foundation
import TailForgeStorage

/// What a committed job actually did, written next to its output as `OUT.manifest.json`; `tailforge replay`
/// reruns `manifest` and compares the new output with `outputSHA256` and, when recorded, `outputContentSHA256`.
///
/// The top-level keys keep their original camelCase spelling (the file format is a contract); the embedded
/// `manifest` uses the snake_case manifest keys. `manifestSHA256` seals the file: `replay` refuses one whose
/// content was changed after the coordinator wrote it (an edited `shards[]` or `toolVersion`).
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
    /// SHA-256 of each output dataset's content (`BalancedContentDigest`), independent of HDF5's file layout;
    /// absent from manifests written before content digests existed (the seal still holds: nil is not encoded).
    public var outputContentSHA256: [String: String]?
    public var fallbackKappa: Double?
    public var shards: [Shard]
    public var stageSeconds: [String: Double]
    public var totalSeconds: Double
    public var submitted: Date
    /// SHA-256 of this file's canonical encoding without this field, set by `write(to:)`.
    public var manifestSHA256: String?

    /// `OUT.manifest.json` for output `OUT.h5` (the extension is replaced).
    public static func path(forOutput output: String) -> String {
        ((output as NSString).deletingPathExtension) + ".manifest.json"
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// The digest `manifestSHA256` holds: of the canonical encoding (sorted keys, ISO 8601 dates) without the
    /// digest, taken after one decode so values the encoding rounds (dates to seconds) digest as they read back.
    public func contentSHA256() throws -> String {
        var unsealed = self
        unsealed.manifestSHA256 = nil
        let once = try Self.decoder().decode(ResolvedManifest.self, from: Self.encoder().encode(unsealed))
        return SHA256.hexDigest(of: try Self.encoder().encode(once))
    }

    /// Writes the manifest sealed with its `manifestSHA256`.
    public func write(to path: String) throws {
        var sealed = self
        sealed.manifestSHA256 = try contentSHA256()
        try Self.encoder().encode(sealed).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func read(from path: String) throws -> ResolvedManifest {
        try decoder().decode(ResolvedManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Checks every field a replay relies on before any work: the seal, the tool version, the manifest's
    /// ranges, the digests' form, and that no class is in two of `shards[]`, whose indices, rows and digests must be consistent.
    public func verify(source: String, toolVersion current: String) throws(ManifestError) {
        func refuse(_ key: String?, _ reason: String) -> ManifestError { ManifestError(source: source, key: key, reason: reason) }
        // Before the seal: an unreadable value is the real problem, not the digest it then fails.
        if let problem = manifest.unreadablePolicy { throw refuse("manifest.policy", problem) }
        guard let recorded = manifestSHA256 else {
            throw refuse("manifestSHA256", "has no `manifestSHA256`, so it cannot be checked for edits (it was written by an earlier release or edited); rerun the job to get a replayable manifest.")
        }
        guard let actual = try? contentSHA256(), actual == recorded else {
            throw refuse("manifestSHA256", "was changed after the coordinator wrote it (its content no longer matches `manifestSHA256`); replay needs it exactly as written. Restore the original or rerun the job.")
        }
        guard toolVersion == current else {
            throw refuse("toolVersion", "was written by TailForge \(toolVersion) and this is TailForge \(current); outputs are only bit-identical within one release, so replay with TailForge \(toolVersion).")
        }
        try manifest.validate(source: source)
        func isDigest(_ text: String) -> Bool { text.count == 64 && text.allSatisfy(\.isHexDigit) }
        for (key, value) in [("inputSHA256", inputSHA256), ("outputSHA256", outputSHA256)] where !isDigest(value) {
            throw refuse(key, "`\(key)` is `\(value)`; it must be 64 hexadecimal digits.")
        }
        if let content = outputContentSHA256, let problem = BalancedContentDigest.problem(in: content) {
            throw refuse("outputContentSHA256", "`outputContentSHA256` \(problem).")
        }
        if let fallbackKappa, !(fallbackKappa.isFinite && fallbackKappa > 0) {
            throw refuse("fallbackKappa", "`fallbackKappa` is \(fallbackKappa); it must be a finite number > 0.")
        }
        guard !shards.isEmpty, JobManifest.Limits.shards.contains(shards.count) else {
            throw refuse("shards", "`shards` has \(shards.count) entries; it must have 1 to \(JobManifest.Limits.shards.upperBound).")
        }
        var seen = Set<Int>()
        for (position, shard) in shards.enumerated() {
            let key = "shards[\(position)]"
            guard shard.index == position else { throw refuse(key, "`\(key).index` is \(shard.index); shards must be listed in order from 0.") }
            guard !shard.classes.isEmpty, shard.classes.allSatisfy({ $0 >= 0 }) else {
                throw refuse(key, "`\(key).classes` must be a non-empty list of class ids ≥ 0.")
            }
            for id in shard.classes where !seen.insert(id).inserted {
                throw refuse(key, "class \(id) appears in more than one shard; the shards must partition the classes.")
            }
            guard shard.rows >= 0, (shard.bytes ?? 0) >= 0 else { throw refuse(key, "`\(key)` has a negative row or byte count.") }
            guard isDigest(shard.sha256) else { throw refuse(key, "`\(key).sha256` is `\(shard.sha256)`; it must be 64 hexadecimal digits.") }
        }
    }
}
