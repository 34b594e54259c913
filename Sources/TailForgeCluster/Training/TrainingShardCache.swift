import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What makes two paths the same file for caching: device and inode, plus size and modification time so a
/// file rewritten in place is loaded again.
struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int64
    var modifiedNanoseconds: Int64

    /// The identity of the file `path` names (symbolic links followed), nil when it cannot be stat'ed.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modifiedSeconds = Int64(info.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int64(info.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int64(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
        #endif
    }

    init(device: UInt64, inode: UInt64, size: Int64, modifiedSeconds: Int64, modifiedNanoseconds: Int64 = 0) {
        self.device = device; self.inode = inode; self.size = size
        self.modifiedSeconds = modifiedSeconds; self.modifiedNanoseconds = modifiedNanoseconds
    }
}

/// Loaded training shards keyed by file identity, not path spelling: `a.h5`, `./a.h5`, `/data/../data/a.h5` and
/// a symbolic link to it share one copy in memory. Each spelling a session used holds a reference; the copy is
/// dropped when its last spelling is released (or now names a different file).
struct TrainingShardCache<Value> {
    private(set) var values: [FileIdentity: Value] = [:]
    private var spellings: [String: FileIdentity] = [:]

    var count: Int { values.count }

    /// The value loaded for `identity`, recording `path` as one more spelling of it.
    mutating func lookup(_ path: String, identity: FileIdentity) -> Value? {
        guard let value = values[identity] else { return nil }
        bind(path, to: identity)
        return value
    }

    mutating func insert(_ value: Value, path: String, identity: FileIdentity) {
        values[identity] = value
        bind(path, to: identity)
    }

    /// A session closed: `path` no longer holds its file.
    mutating func release(_ path: String) {
        guard let identity = spellings.removeValue(forKey: path) else { return }
        dropIfUnreferenced(identity)
    }

    private mutating func bind(_ path: String, to identity: FileIdentity) {
        let previous = spellings.updateValue(identity, forKey: path)
        if let previous, previous != identity { dropIfUnreferenced(previous) }
    }

    private mutating func dropIfUnreferenced(_ identity: FileIdentity) {
        if !spellings.values.contains(identity) { values[identity] = nil }
    }
}
