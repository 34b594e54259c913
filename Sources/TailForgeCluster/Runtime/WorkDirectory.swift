import Foundation
import Logging

/// A worker's work directory: streamed inputs (`input-SHA256.h5`, a cache bounded by `--cache-max-bytes`,
/// least recently used first) and shard files (`JOB-shard-N-attempt-K.h5`) until the coordinator fetched them.
enum WorkDirectory {
    /// `path` standardised, if it lies inside `directory` (only such files are served or deleted on request).
    static func contained(_ path: String, in directory: String) -> String? {
        let prefix = URL(fileURLWithPath: directory).standardizedFileURL.path + "/"
        let standardized = URL(fileURLWithPath: path).standardizedFileURL.path
        return standardized.hasPrefix(prefix) ? standardized : nil
    }

    /// On start: what an earlier life left is of no use to anyone. Partial downloads, and shard files (their
    /// attempts died with the old connection: the coordinator recomputes them). Cached inputs stay.
    static func removeLeftovers(_ directory: String, log: Logger) {
        var removed = 0
        for name in Housekeeping.contents(directory) where isPartialInput(name) || Housekeeping.isShardFile(name) {
            if (try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))) != nil { removed += 1 }
        }
        if removed > 0 { log.info("removed \(removed) file(s) left in \(directory) by an earlier run") }
    }

    /// A streamed input still being written (`input-SHA256.h5.partial`).
    static func isPartialInput(_ name: String) -> Bool {
        name.hasPrefix("input-") && name.hasSuffix(".h5.partial")
    }

    /// Marks a cached input as just used (its modification time orders the cache).
    static func touch(_ path: String) {
        try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
    }

    /// Cached inputs, oldest use first, with their sizes.
    static func cachedInputs(_ directory: String) -> [(path: String, bytes: Int64, used: Date)] {
        Housekeeping.contents(directory).filter { $0.hasPrefix("input-") && $0.hasSuffix(".h5") }.compactMap { name in
            let path = (directory as NSString).appendingPathComponent(name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
            let bytes = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            return (path, bytes, attributes[.modificationDate] as? Date ?? .distantPast)
        }.sorted { $0.used < $1.used }
    }

    /// Deletes cached inputs, least recently used first, until they total at most `budget` bytes; never one in
    /// `keeping`. Returns the deleted paths.
    @discardableResult
    static func evictInputs(_ directory: String, keeping: Set<String>, budget: Int64, log: Logger) -> [String] {
        var inputs = cachedInputs(directory)
        var total = inputs.reduce(Int64(0)) { $0 + $1.bytes }
        var removed: [String] = []
        while total > max(0, budget), let index = inputs.firstIndex(where: { !keeping.contains($0.path) }) {
            let victim = inputs.remove(at: index)
            if (try? FileManager.default.removeItem(atPath: victim.path)) != nil {
                removed.append(victim.path)
                log.info("input cache over \(budget) bytes: removed \(victim.path) (\(victim.bytes) bytes, least recently used)")
            }
            total -= victim.bytes
        }
        return removed
    }
}
