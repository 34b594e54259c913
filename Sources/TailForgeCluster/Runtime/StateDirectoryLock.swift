import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on the coordinator's state directory, held for the life of the process, so a second
/// coordinator on the same directory refuses to start instead of sharing the journal and overwriting `endpoint`.
/// The lock file holds the owner's PID for the refusal message; the kernel releases the lock when the owner dies.
public final class StateDirectoryLock {
    /// Why the lock could not be taken.
    public enum Failure: Error, CustomStringConvertible {
        case inUse(directory: String, pid: Int32?)
        case unavailable(path: String, code: Int32)

        public var description: String {
            switch self {
            case .inUse(let directory, let pid):
                "the state directory \(directory) is in use by another coordinator"
                    + (pid.map { " (PID \($0))" } ?? "") + "; stop it first or give this one another --state-dir"
            case .unavailable(let path, let code):
                "cannot lock \(path): \(String(cString: strerror(code)))"
            }
        }
    }

    public let path: String
    private let descriptor: Int32

    public init(directory: String) throws(Failure) {
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
}
