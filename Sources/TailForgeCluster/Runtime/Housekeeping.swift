import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deleting the files the cluster leaves behind: partial copies, temporary files of dead processes, the files
/// of jobs that ended. Every function only removes names the cluster itself creates.
enum Housekeeping {
    /// True when no process with `pid` exists (a temporary file's writer is gone).
    static func isDead(_ pid: Int32) -> Bool {
        kill(pid, 0) != 0 && errno == ESRCH
    }

    static func contents(_ directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    /// The PID in a temporary name `….tmp-PID-N` (AtomicHDF5Writer's naming), if it is one.
    static func temporaryOwner(_ name: String) -> Int32? {
        guard let range = name.range(of: ".tmp-", options: .backwards) else { return nil }
        let rest = name[range.upperBound...].split(separator: "-")
        guard rest.count == 2, Int(rest[1]) != nil else { return nil }
        return Int32(rest[0])
    }

    /// Removes hidden temporary siblings `.NAME.tmp-PID-N` of `output` whose writer is dead (a coordinator
    /// killed during gather); returns what it removed.
    @discardableResult
    static func removeDeadTemporaries(of output: String) -> [String] {
        let directory = (output as NSString).deletingLastPathComponent
        let prefix = "." + (output as NSString).lastPathComponent + ".tmp-"
        var removed: [String] = []
        for name in contents(directory.isEmpty ? "." : directory) where name.hasPrefix(prefix) {
            guard let pid = temporaryOwner(name), isDead(pid) else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// Removes the shard files (and their writers' temporaries) of `job` in `directory`: a worker's work
    /// directory or a shared shard directory. `attempt` limits it to one attempt.
    @discardableResult
    static func removeShardFiles(ofJob job: String, in directory: String) -> [String] {
        var removed: [String] = []
        for name in contents(directory) where name.hasPrefix("\(job)-shard-") || name.hasPrefix(".\(job)-shard-") {
            let path = (directory as NSString).appendingPathComponent(name)
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// True for a shard file name a worker writes (`JOB-shard-N-attempt-K.h5`) or its temporary.
    static func isShardFile(_ name: String) -> Bool {
        let bare = name.hasPrefix(".") ? String(name.dropFirst()) : name
        return bare.hasPrefix("job-") && bare.contains("-shard-") && bare.contains("-attempt-")
    }
}
