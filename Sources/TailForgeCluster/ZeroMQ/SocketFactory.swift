import CZeroMQ

/// Options every TailForge socket gets.
public struct SocketSettings: Sendable, Equatable, Codable {
    /// How long `close` waits to flush unsent messages, in milliseconds.
    public var lingerMilliseconds: Int32 = 200
    /// libzmq drops a peer that sends a single frame larger than this (`ZMQ_MAXMSGSIZE`) as soon as it reads
    /// the frame's length, before buffering it; the protocol additionally rejects whole messages over
    /// `WireLimits.maxMessageBytes`. The default is far above the largest frame TailForge sends (4 MiB data
    /// chunks; a Places-LT gradient is 4.5 MB).
    public var maxFrameBytes: Int64 = SocketSettings.defaultMaxFrameBytes
    public static let defaultMaxFrameBytes: Int64 = 64 << 20
    /// ZMTP-level heartbeat between libzmq peers (`ZMQ_HEARTBEAT_IVL`), which detects dead TCP connections;
    /// the application heartbeats (worker liveness) are separate and run on their own thread.
    public var transportHeartbeatMilliseconds: Int32 = 2_000
    /// A connection with no ZMTP traffic for this long is closed (`ZMQ_HEARTBEAT_TIMEOUT`).
    public var transportHeartbeatTimeoutMilliseconds: Int32 = 10_000
    /// Accept IPv6 as well as IPv4 (`ZMQ_IPV6`).
    public var ipv6: Bool = false
    /// Queue limits in messages per peer (`ZMQ_SNDHWM`/`ZMQ_RCVHWM`): a peer that floods or stops reading
    /// costs at most this many queued messages.
    public var highWaterMark: Int32 = 1_000

    public init() {}

    /// Settings for a daemon whose messages may be up to `maxMessageBytes` long: frames are capped at the
    /// smaller of that and the default frame limit.
    public init(maxMessageBytes: Int) {
        maxFrameBytes = min(Int64(maxMessageBytes), Self.defaultMaxFrameBytes)
    }
}

/// Creates and configures every socket TailForge opens, so security (ZeroMQ CURVE, a later issue) and
/// transport options are applied in exactly one place and protocol code never calls `setsockopt`.
public struct SocketFactory: Sendable {
    /// The context all sockets share.
    public let context: ZMQContext
    /// The options applied to each socket.
    public let settings: SocketSettings
    /// CURVE keys for ROUTER and DEALER sockets (inproc PAIR sockets stay inside the process and need none).
    public let security: SocketSecurity

    public init(context: ZMQContext, settings: SocketSettings = SocketSettings(), security: SocketSecurity = .plaintext) {
        self.context = context
        self.settings = settings
        self.security = security
    }

    /// A ROUTER bound to `endpoint` that fails loudly (`EHOSTUNREACH`) instead of silently dropping
    /// messages addressed to a peer that has gone.
    public func makeRouter(binding endpoint: String) throws(ZMQError) -> ZMQSocket {
        let socket = try make(.router)
        try socket.setOption(ZMQ_ROUTER_MANDATORY, Int32(1))
        try applySecurity(to: socket)
        try socket.bind(endpoint)
        return socket
    }

    /// A DEALER with the given routing id connected to `endpoint`. With `sendTimeoutMilliseconds`, a send that
    /// cannot be queued (no connection: a refused or never-completed handshake) fails with `EAGAIN` after that
    /// long instead of blocking forever.
    public func makeDealer(connecting endpoint: String, identity: [UInt8], sendTimeoutMilliseconds: Int32? = nil) throws(ZMQError) -> ZMQSocket {
        let socket = try make(.dealer)
        try socket.setOption(ZMQ_ROUTING_ID, bytes: identity)
        if let sendTimeoutMilliseconds { try socket.setOption(ZMQ_SNDTIMEO, sendTimeoutMilliseconds) }
        try applySecurity(to: socket)
        try socket.connect(endpoint)
        return socket
    }

    /// A PAIR socket for in-process signalling between two threads (`inproc://` endpoints need no security).
    public func makePair(binding endpoint: String) throws(ZMQError) -> ZMQSocket {
        let socket = try make(.pair)
        try socket.bind(endpoint)
        return socket
    }

    /// The other end of `makePair(binding:)`.
    public func makePair(connecting endpoint: String) throws(ZMQError) -> ZMQSocket {
        let socket = try make(.pair)
        try socket.connect(endpoint)
        return socket
    }

    /// Keys go on before bind/connect: libzmq fixes a socket's mechanism when its first connection starts.
    private func applySecurity(to socket: ZMQSocket) throws(ZMQError) {
        switch security {
        case .plaintext:
            return
        case .curveServer(let keys):
            try socket.setOption(ZMQ_CURVE_SERVER, Int32(1))
            try socket.setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.secretKey.utf8))
            // Every handshake goes to the ZAP handler, and none is accepted when no handler is bound.
            try socket.setOption(ZMQ_ZAP_DOMAIN, bytes: Array(ZAPHandler.domain.utf8))
            try socket.setOption(tailforge_zmq_ZAP_ENFORCE_DOMAIN(), Int32(1))
        case .curveClient(let keys, let serverPublicKey):
            try socket.setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(serverPublicKey.utf8))
            try socket.setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(keys.publicKey.utf8))
            try socket.setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.secretKey.utf8))
        }
    }

    private func make(_ type: ZMQSocketType) throws(ZMQError) -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: type)
        try socket.setOption(ZMQ_LINGER, settings.lingerMilliseconds)
        try socket.setOption(ZMQ_MAXMSGSIZE, settings.maxFrameBytes)
        try socket.setOption(ZMQ_SNDHWM, settings.highWaterMark)
        try socket.setOption(ZMQ_RCVHWM, settings.highWaterMark)
        if type != .pair {
            try socket.setOption(ZMQ_HEARTBEAT_IVL, settings.transportHeartbeatMilliseconds)
            try socket.setOption(ZMQ_HEARTBEAT_TIMEOUT, settings.transportHeartbeatTimeoutMilliseconds)
            try socket.setOption(ZMQ_HEARTBEAT_TTL, settings.transportHeartbeatTimeoutMilliseconds)
            try socket.setOption(ZMQ_IPV6, Int32(settings.ipv6 ? 1 : 0))
        }
        return socket
    }
}
