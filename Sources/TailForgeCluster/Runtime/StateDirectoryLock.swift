import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on the coordinator's state directory, held for the life of the process, so a second
/// coordinator on the same directory refuses to start instead of sharing the journal and overwriting `endpoint`.
/// The lock file holds the owner's PID for the refusal message; the kernel releases the lock when the owner dies.
/// Taking it creates the directory (and missing parents), so an unusable `--state-dir` is reported here, once.
public final class StateDirectoryLock {
    /// Why the lock could not be taken.
    public enum Failure: Error, CustomStringConvertible {
        case inUse(directory: String, pid: Int32?)
        case unavailable(path: String, code: Int32)
        /// The directory cannot be created (a file stands in its path, or a parent is not writable).
        case cannotCreate(directory: String, reason: String)

        public var description: String {
            switch self {
            case .inUse(let directory, let pid):
                "the state directory \(directory) is in use by another coordinator"
                    + (pid.map { " (PID \($0))" } ?? "") + "; stop it first or give this one another --state-dir"
            case .unavailable(let path, let code):
                "cannot lock \(path): \(String(cString: strerror(code)))"
            case .cannotCreate(let directory, let reason):
                "cannot use \(directory) as the state directory: \(reason); give --state-dir a directory this user can create or write"
            }
        }
    }

    public let path: String
    private let descriptor: Int32

    public init(directory: String) throws(Failure) {
        try Self.create(directory)
        path = (directory as NSString).appendingPathComponent("lock")
        // Opened and locked through a local: once every stored property is set, a throwing init runs `deinit`,
        // so closing here and again in `deinit` closed the number twice. In a process with other threads (the
        // test runner, a coordinator's ZeroMQ I/O thread) the number may already be reused by then: libzmq
        // aborts with "Invalid argument (src/epoll.cpp)" when its epoll descriptor is the one closed (the rare
        // abort seen in full test runs under load; this is the double close found that explains it).
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .unavailable(path: path, code: errno) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let owner = (try? String(contentsOfFile: path, encoding: .utf8))
                .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            close(descriptor)
            if code == EWOULDBLOCK { throw .inUse(directory: directory, pid: owner) }
            throw .unavailable(path: path, code: code)
        }
        self.descriptor = descriptor
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }

    /// Creates `directory` with its missing parents.
    private static func create(_ directory: String) throws(Failure) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .cannotCreate(directory: directory, reason: "it is a file") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            // Foundation's own text names no cause ("Code=512 (null)"); the POSIX error beneath it does.
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? any Error).map { ($0 as NSError).code }
            throw .cannotCreate(directory: directory, reason: code.map { String(cString: strerror(Int32($0))) } ?? "\(error)")
        }
    }
}
