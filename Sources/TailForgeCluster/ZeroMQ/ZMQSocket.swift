import CZeroMQ

/// The ZeroMQ socket patterns TailForge uses.
public enum ZMQSocketType: Int32, Sendable {
    case router = 6   // ZMQ_ROUTER
    case dealer = 5   // ZMQ_DEALER
    case pair = 0     // ZMQ_PAIR
    case rep = 4      // ZMQ_REP (the ZAP handler)
}

/// Owns one libzmq socket.
///
/// Not `Sendable`: a ZeroMQ socket is not thread-safe, so it is created, used and closed on one thread; other
/// threads talk to that thread through queues, never through the socket. Closing sets the linger period chosen
/// by the `SocketFactory` (default short, so a dying process does not hang on unsent messages).
public final class ZMQSocket {
    private let context: ZMQContext
    private var handle: UnsafeMutableRawPointer?
    /// The socket's pattern.
    public let type: ZMQSocketType

    init(context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.current("zmq_socket(\(type))")
        }
        self.context = context
        self.handle = handle
        self.type = type
    }

    deinit { close() }

    /// Closes the socket now (idempotent); pending messages get the configured linger period.
    public func close() {
        guard let handle else { return }
        _ = zmq_close(handle)
        self.handle = nil
    }

    private func live(_ operation: String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(tailforge_zmq_ENOTSOCK(), operation: operation + " on a closed socket") }
        return handle
    }

    // MARK: - Options

    /// Sets an `int` socket option.
    public func setOption(_ option: Int32, _ value: Int32) throws(ZMQError) {
        let socket = try live("setsockopt \(option)")
        var value = value
        try retryingInterrupts("setsockopt \(option)") {
            zmq_setsockopt(socket, option, &value, MemoryLayout<Int32>.size)
        }
    }

    /// Sets an `int64_t` socket option (for example `ZMQ_MAXMSGSIZE`).
    public func setOption(_ option: Int32, _ value: Int64) throws(ZMQError) {
        let socket = try live("setsockopt \(option)")
        var value = value
        try retryingInterrupts("setsockopt \(option)") {
            zmq_setsockopt(socket, option, &value, MemoryLayout<Int64>.size)
        }
    }

    /// Sets a binary socket option (routing id, CURVE keys).
    public func setOption(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        let socket = try live("setsockopt \(option)")
        try retryingInterrupts("setsockopt \(option)") {
            bytes.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        }
    }

    /// The endpoint the socket last bound to, with any wildcard port resolved (`tcp://127.0.0.1:41235`).
    public var lastEndpoint: String {
        get throws(ZMQError) {
            let socket = try live("getsockopt ZMQ_LAST_ENDPOINT")
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            try retryingInterrupts("getsockopt ZMQ_LAST_ENDPOINT") {
                zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size)
            }
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    // MARK: - Endpoints

    /// Binds to an endpoint such as `tcp://*:5555` or `tcp://127.0.0.1:*`.
    public func bind(_ endpoint: String) throws(ZMQError) {
        let socket = try live("bind \(endpoint)")
        try retryingInterrupts("bind \(endpoint)") { zmq_bind(socket, endpoint) }
    }

    /// Connects to an endpoint; libzmq reconnects by itself when the peer goes away and comes back.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try live("connect \(endpoint)")
        try retryingInterrupts("connect \(endpoint)") { zmq_connect(socket, endpoint) }
    }

    // MARK: - Messages

    /// Sends one multipart message; blocks only when the peer's queue is full (unless `dontWait`).
    /// Throws `.hostUnreachable` on a ROUTER with `ROUTER_MANDATORY` when the first frame names no peer.
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) {
        let socket = try live("send")
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            try retryingInterrupts("send frame \(index)") {
                frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            }
        }
    }

    /// Receives one whole multipart message, or nil when `dontWait` is set and nothing is queued.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        try receiveAuthenticated(dontWait: dontWait)?.frames
    }

    /// `receive`, plus the ZAP user id of the connection the message came on (`zmq_msg_gets "User-Id"`): the
    /// role the coordinator's ZAP handler gave the peer's CURVE key, nil on a plain-text socket.
    /// `peerAddress` is the connection's remote address (`Peer-Address`), which names a peer without a key.
    public func receiveAuthenticated(dontWait: Bool = false) throws(ZMQError) -> (frames: [[UInt8]], userId: String?, peerAddress: String?)? {
        let socket = try live("receive")
        var userId: String?
        var peerAddress: String?
        var frames: [[UInt8]] = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        while true {
            // Only the first frame may be absent; libzmq delivers the rest of a multipart message atomically.
            let flags: Int32 = (dontWait && frames.isEmpty) ? ZMQ_DONTWAIT : 0
            do {
                try retryingInterrupts("receive frame \(frames.count)") { zmq_msg_recv(&message, socket, flags) }
            } catch {
                if error == .wouldBlock && frames.isEmpty { return nil }
                throw error
            }
            let size = zmq_msg_size(&message)
            if let data = zmq_msg_data(&message), size > 0 {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            // A ROUTER's identity frame is made locally and carries no metadata; the peer's frames do.
            if userId == nil, let property = zmq_msg_gets(&message, "User-Id") { userId = String(cString: property) }
            if peerAddress == nil, let property = zmq_msg_gets(&message, "Peer-Address") { peerAddress = String(cString: property) }
            if zmq_msg_more(&message) == 0 { return (frames, userId, peerAddress) }
        }
    }

    /// Waits up to `timeoutMilliseconds` (−1 = forever) for a message; true when one can be received.
    public func waitForInput(timeoutMilliseconds: Int) throws(ZMQError) -> Bool {
        try ZMQSocket.poll([self], timeoutMilliseconds: timeoutMilliseconds)[0]
    }

    /// Waits until any of `sockets` has a message or the timeout (milliseconds, −1 = forever) passes;
    /// returns, per socket, whether it is readable. A signal ends the wait early with nothing readable.
    public static func poll(_ sockets: [ZMQSocket], timeoutMilliseconds: Int) throws(ZMQError) -> [Bool] {
        var items: [zmq_pollitem_t] = []
        for socket in sockets {
            items.append(zmq_pollitem_t(socket: try socket.live("poll"), fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let result = items.withUnsafeMutableBufferPointer {
            zmq_poll($0.baseAddress, Int32($0.count), timeoutMilliseconds)
        }
        if result == -1 {
            let error = ZMQError.current("poll")
            if error == .interrupted { return Array(repeating: false, count: sockets.count) }
            throw error
        }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
