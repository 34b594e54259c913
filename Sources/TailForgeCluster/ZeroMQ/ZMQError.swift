import CZeroMQ

/// An error reported by libzmq: the errno it set and libzmq's own text for it.
///
/// Modelled on swift-system's `Errno`: the code is kept so callers can match on named statics
/// (`ZMQError.wouldBlock`, `.hostUnreachable`, …) and the description comes from `zmq_strerror`.
public struct ZMQError: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The errno value libzmq reported.
    public let rawValue: Int32
    /// What the wrapper was doing when libzmq failed (for example `"bind tcp://*:5555"`).
    public var operation: String

    public init(rawValue: Int32) {
        self.rawValue = rawValue
        self.operation = ""
    }

    public init(_ code: Int32, operation: String) {
        self.rawValue = code
        self.operation = operation
    }

    /// The current `zmq_errno()` tagged with the failed operation.
    static func current(_ operation: String) -> ZMQError {
        ZMQError(tailforge_zmq_errno(), operation: operation)
    }

    public var description: String {
        let text = String(cString: zmq_strerror(rawValue))
        return operation.isEmpty ? "ZeroMQ error \(rawValue): \(text)" : "ZeroMQ \(operation) failed: \(text) (errno \(rawValue))"
    }

    public static func == (lhs: ZMQError, rhs: ZMQError) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// A non-blocking call had nothing to do (`EAGAIN`).
    public static var wouldBlock: ZMQError { ZMQError(rawValue: tailforge_zmq_EAGAIN()) }
    /// A signal interrupted the call (`EINTR`); `retryingInterrupts` repeats such calls.
    public static var interrupted: ZMQError { ZMQError(rawValue: tailforge_zmq_EINTR()) }
    /// The context was terminated while the call was blocked (`ETERM`).
    public static var contextTerminated: ZMQError { ZMQError(rawValue: tailforge_zmq_ETERM()) }
    /// The socket's state machine forbids the call now (`EFSM`).
    public static var invalidState: ZMQError { ZMQError(rawValue: tailforge_zmq_EFSM()) }
    /// A ROUTER with `ROUTER_MANDATORY` was asked to send to a peer it does not know (`EHOSTUNREACH`).
    public static var hostUnreachable: ZMQError { ZMQError(rawValue: tailforge_zmq_EHOSTUNREACH()) }
    /// An argument (endpoint, option value) was invalid (`EINVAL`).
    public static var invalidArgument: ZMQError { ZMQError(rawValue: tailforge_zmq_EINVAL()) }
    /// The address is already bound by another socket (`EADDRINUSE`).
    public static var addressInUse: ZMQError { ZMQError(rawValue: tailforge_zmq_EADDRINUSE()) }
    /// The endpoint's transport is not supported (`EPROTONOSUPPORT`).
    public static var protocolNotSupported: ZMQError { ZMQError(rawValue: tailforge_zmq_EPROTONOSUPPORT()) }
}

/// Runs a libzmq call that returns -1 on failure, retrying while it fails with `EINTR`,
/// and turns any other failure into a thrown `ZMQError` (swift-system's `valueOrErrno` pattern).
@discardableResult
func retryingInterrupts(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let result = call()
        if result != -1 { return result }
        let error = ZMQError.current(operation())
        if error == .interrupted { continue }
        throw error
    }
}
