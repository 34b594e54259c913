import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The directories a daemon may touch on a peer's behalf: the coordinator's `--data-root`s (job inputs, outputs
/// and shard directories) and a worker's `--work-dir` plus its `--data-root`s (shard files, shared shard
/// directories, training shards). A path is inside when it resolves inside a root after `..` and every symbolic
/// link; a path that does not exist yet (an output, a shard directory to create) is judged by its deepest
/// existing ancestor, resolved, plus the rest.
public struct DataRoots: Sendable, Equatable {
    /// The roots as given (for messages).
    public let given: [String]
    /// The roots resolved (`realpath`), in the same order.
    public let resolved: [String]

    /// Resolves every root; each must be an existing directory.
    public init(_ roots: [String]) throws(DataRootError) {
        var resolved: [String] = []
        for root in roots {
            guard let real = Self.realPath(root), POSIXStat.isDirectory(real) else { throw .notADirectory(root) }
            resolved.append(real)
        }
        given = roots
        self.resolved = resolved
    }

    /// No roots: every path is outside.
    public static let none = try! DataRoots([])

    /// The resolved form of `path` when it lies inside a root; nil when it does not (or cannot be resolved: a
    /// dangling symbolic link, a relative path). Never says whether the path exists.
    public func confine(_ path: String) -> String? {
        guard let real = Self.resolve(path) else { return nil }
        return resolved.contains { Self.isInside(real, $0) } ? real : nil
    }

    /// `path` resolved as the kernel would follow it, for a path that may not exist yet; nil for a relative
    /// path or one whose existing part cannot be resolved (a dangling link, a loop, a permission error).
    public static func resolve(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return nil }
        var components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var rest: [String] = []
        while true {
            let prefix = "/" + components.joined(separator: "/")
            if let real = realPath(prefix) {
                return lexical(real, rest)
            }
            // Exists (as a link) but does not resolve: where it would lead is not knowable here, so refuse.
            if POSIXStat.lexists(prefix) { return nil }
            guard let last = components.popLast() else { return nil }
            rest.insert(last, at: 0)
        }
    }

    /// `base` (resolved, so `..` is its real parent) followed by components that do not exist yet.
    static func lexical(_ base: String, _ rest: [String]) -> String {
        var parts = base.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        for component in rest {
            switch component {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// True when resolved `path` is `root` or below it.
    public static func isInside(_ path: String, _ root: String) -> Bool {
        root == "/" || path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    /// The roots for a message: `/data, /scratch`.
    public var list: String { given.isEmpty ? "none" : given.joined(separator: ", ") }
}

/// A `--data-root` or `--work-dir` the daemon cannot use.
public enum DataRootError: Error, CustomStringConvertible, Equatable {
    case notADirectory(String)

    public var description: String {
        switch self {
        case .notADirectory(let path): "the data root \(path) is not an existing directory; create it or fix the path"
        }
    }
}

/// `stat` and `lstat` without Foundation's bridging.
enum POSIXStat {
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func lexists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
