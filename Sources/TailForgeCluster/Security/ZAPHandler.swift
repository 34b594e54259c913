import CZeroMQ
import Logging
import Synchronization
import TailForgeNumerics

/// The ZeroMQ Authentication Protocol handler (RFC 27) of a coordinator: libzmq asks it, over
/// `inproc://zeromq.zap.01`, whether each CURVE handshake's client key may connect.
///
/// An allowed key is accepted with its role as the ZAP user id (which libzmq attaches to every message of that
/// connection as `User-Id`); any other key is refused before a single message is read, and logged with its
/// fingerprint so an operator can find whose key it was. The allow-list can be swapped (SIGHUP) while running;
/// connections authenticated earlier keep their role, new handshakes see the new list.
public final class ZAPHandler: Sendable {
    public static let endpoint = "inproc://zeromq.zap.01"
    /// The ZAP domain every TailForge server socket sets (with ZMQ_ZAP_ENFORCE_DOMAIN).
    public static let domain = "tailforge"

    private let allowList: Mutex<AllowList>
    private let logger: Logger

    public init(allowList: AllowList, logger: Logger) {
        self.allowList = Mutex(allowList)
        self.logger = logger
    }

    /// Re-reads the allow-list directory; on error the old list stays and the error is returned for logging.
    public func reload() throws(KeyFileError) -> AllowList {
        let directory = allowList.withLock { $0.directory }
        let fresh = try AllowList.load(directory: directory)
        allowList.withLock { $0 = fresh }
        return fresh
    }

    /// The reply to one ZAP request (frames: version, request id, domain, address, identity, mechanism,
    /// credentials…). Pure, so the policy is tested without sockets.
    public func reply(to request: [[UInt8]]) -> [[UInt8]] {
        guard request.count >= 6, request[0] == Array("1.0".utf8) else {
            logger.warning("malformed ZAP request refused (\(request.count) frames)")
            return Self.reply(requestId: request.count > 1 ? request[1] : [], status: "400", text: "malformed ZAP request", userId: "")
        }
        let requestId = request[1]
        let domain = String(decoding: request[2], as: UTF8.self)
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard domain == Self.domain else {
            logger.warning("refused a connection from \(address): ZAP domain '\(domain)'")
            return Self.reply(requestId: requestId, status: "400", text: "wrong domain", userId: "")
        }
        guard mechanism == "CURVE", request.count >= 7, request[6].count == 32 else {
            logger.warning("refused a connection from \(address): mechanism \(mechanism), CURVE is required")
            return Self.reply(requestId: requestId, status: "400", text: "CURVE required", userId: "")
        }
        let key = request[6]
        guard let role = allowList.withLock({ $0.role(of: key) }) else {
            logger.warning("refused a connection from \(address): public key \(CurveKey.fingerprint(raw: key)) is not in the allow-list")
            return Self.reply(requestId: requestId, status: "400", text: "key not allowed", userId: "")
        }
        logger.debug("accepted \(role.rawValue) key \(CurveKey.fingerprint(raw: key)) from \(address)")
        // The fingerprint rides along so the coordinator can hold each key to its own limits.
        return Self.reply(requestId: requestId, status: "200", text: "OK", userId: role.rawValue + ":" + CurveKey.fingerprint(raw: key))
    }

    static func reply(requestId: [UInt8], status: String, text: String, userId: String) -> [[UInt8]] {
        [Array("1.0".utf8), requestId, Array(status.utf8), Array(text.utf8), Array(userId.utf8), []]
    }

    /// Binds the ZAP endpoint in `context` (before any CURVE server socket accepts a connection) and answers
    /// requests on its own thread until `stop` is set; the socket is closed by that thread.
    public func start(context: ZMQContext, settings: SocketSettings, stop: StopSignal) throws(ZMQError) {
        let socket = try ZMQSocket(context: context, type: .rep)
        try socket.setOption(ZMQ_LINGER, Int32(0))
        try socket.bind(Self.endpoint)
        let box = SocketBox(socket)
        ComputePool.startThread(named: "tailforge-zap") { [self] in
            let socket = box.take()
            defer { socket.close() }
            while !stop.isStopped {
                do throws(ZMQError) {
                    guard try socket.waitForInput(timeoutMilliseconds: 100), let request = try socket.receive(dontWait: true) else { continue }
                    try socket.send(reply(to: request))
                } catch {
                    if error == .contextTerminated { return }
                    logger.warning("ZAP handler: \(error)")
                }
            }
        }
    }
}

/// Hands a freshly bound socket to the one thread that will own it from then on.
private final class SocketBox: @unchecked Sendable {
    // Read exactly once, by the thread that then owns the socket.
    private var socket: ZMQSocket?
    init(_ socket: ZMQSocket) { self.socket = socket }
    func take() -> ZMQSocket {
        defer { socket = nil }
        return socket!
    }
}
