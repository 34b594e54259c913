import Foundation
import TailForgeStorage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a `publish: virtual` job keeps the shard files its output maps: `OUT.shards/JOB/shard-N.h5` beside
/// `OUT.h5` (``VirtualBalancedDataset/shardDirectory(forOutput:)``), stored in the output as paths relative to
/// its directory, so the two move together and nothing else refers to them.
///
/// The committed shard files are hard-linked there (a copy when they lie on another filesystem), never moved:
/// until the job's commit is journaled they stay where the journal says, so a coordinator killed at any point
/// of the publish resumes it from the same files. Placing is idempotent (a link already in place is kept), and
/// the directory is per job, so publishing over an earlier virtual output leaves that output readable until
/// the rename that replaces it; the earlier job's directory is removed after.
public struct PublishedShardDirectory: Sendable {
    /// The job's directory, `OUT.shards/JOB`.
    public let path: String
    /// `OUT.shards`.
    public let parent: String
    public let job: String

    public init(output: String, job: String) {
        parent = VirtualBalancedDataset.shardDirectory(forOutput: output)
        path = (parent as NSString).appendingPathComponent(job)
        self.job = job
    }

    /// Links (or, across filesystems, copies) each shard file to `shard-N.h5` in ``path`` and returns the
    /// placed files with their journaled digests. A placed file that is not the same file as its shard (left by
    /// an earlier attempt) is replaced.
    public func place(_ shards: [ShardFile]) throws -> [ShardFile] {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return try shards.enumerated().map { index, shard in
            let target = (path as NSString).appendingPathComponent("shard-\(index).h5")
            if Self.isSameFile(target, shard.path) { return ShardFile(path: target, sha256: shard.sha256) }
            if POSIXStat.lexists(target) { try FileManager.default.removeItem(atPath: target) }
            if link(shard.path, target) != 0 {
                let error = errno
                guard error == EXDEV || error == EPERM || error == EMLINK else {
                    throw ClusterJobError.publish(path: target, reason: "cannot link shard \(index) (\(shard.path)): \(String(cString: strerror(error)))")
                }
                // Another filesystem (or one without hard links): a plain copy, still no HDF5 re-encoding.
                try FileManager.default.copyItem(atPath: shard.path, toPath: target)
            }
            return ShardFile(path: target, sha256: shard.sha256)
        }
    }

    /// Removes this job's directory (a publish that failed, or a job that ended before committing), and
    /// `OUT.shards` when nothing else is left in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
        Self.removeIfEmpty(parent)
    }

    /// After `output` was committed by `job` (or by a copy, `job` nil): removes the directories of earlier
    /// jobs' virtual outputs it replaced, only names the coordinator creates (`job-…`).
    public static func removeReplaced(output: String, keeping job: String?) {
        let parent = VirtualBalancedDataset.shardDirectory(forOutput: output)
        for name in Housekeeping.contents(parent) where name.hasPrefix("job-") && name != job {
            try? FileManager.default.removeItem(atPath: (parent as NSString).appendingPathComponent(name))
        }
        removeIfEmpty(parent)
    }

    static func removeIfEmpty(_ directory: String) {
        if POSIXStat.isDirectory(directory), Housekeeping.contents(directory).isEmpty { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Same device and inode: a link placed by an earlier attempt of this publish.
    static func isSameFile(_ first: String, _ second: String) -> Bool {
        var a = stat(), b = stat()
        return stat(first, &a) == 0 && stat(second, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }
}
