import CZeroMQ

/// Owns one libzmq context, the I/O threads every socket of a process shares.
///
/// libzmq documents contexts as thread-safe, so the class is `Sendable`; sockets are not and keep a strong
/// reference to their context, so `zmq_ctx_term` (which waits for every socket to close) runs only after the
/// last socket is gone.
public final class ZMQContext: @unchecked Sendable {
    // The handle is never reassigned and libzmq synchronises context calls itself.
    let handle: UnsafeMutableRawPointer

    /// Creates a context with `ioThreads` background I/O threads.
    public init(ioThreads: Int = 1) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError.current("zmq_ctx_new") }
        self.handle = handle
        if ioThreads != 1 {
            _ = zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(ioThreads))
        }
    }

    deinit {
        while zmq_ctx_term(handle) == -1 && tailforge_zmq_errno() == tailforge_zmq_EINTR() {}
    }

    /// The libzmq library version, e.g. `4.3.4`.
    public static var libraryVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
