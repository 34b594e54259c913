import CTailForgeInterrupt
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Work to do on SIGINT, SIGTERM or SIGHUP before ``TemporaryFiles``' handler removes the temporary files and
/// ends the process: work a signal handler may not do, such as telling a coordinator to cancel this process's
/// jobs. While a hook is installed, the handler passes the signal through a pipe to a thread of the hook's own,
/// which runs `beforeExit` and then removes and exits as the handler would have; ``remove()`` restores the
/// handler's own removal. Signals ignored at startup (as under nohup) stay ignored.
public final class InterruptHook {
    private let writeEnd: Int32
    private var removed = false

    /// Installs the hook; `beforeExit` receives the signal's number.
    public init(_ beforeExit: @escaping @Sendable (Int32) -> Void) throws(StorageError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw .invalidArgument("cannot create the pipe that hands Ctrl-C to cleanup work: \(String(cString: strerror(errno)))")
        }
        let readEnd = ends[0]
        writeEnd = ends[1]
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        Thread.detachNewThread {
            var number: UInt8 = 0
            while true {
                let count = read(readEnd, &number, 1)
                if count == 1 {
                    beforeExit(Int32(number))
                    tailforge_temporary_remove_and_exit(Int32(number))
                }
                if count == 0 || (count < 0 && errno != EINTR) { break }  // removed: the write end is closed
            }
            close(readEnd)
        }
        tailforge_temporary_forward_interrupts(writeEnd)
    }

    /// Gives signals back to the handler; its reading thread ends.
    public func remove() {
        guard !removed else { return }
        removed = true
        tailforge_temporary_forward_interrupts(-1)
        close(writeEnd)
    }
}
