import Foundation

/// Why a client request failed.
public enum ClusterClientError: Error, CustomStringConvertible {
    case transport(ZMQError)
    case noReply(coordinator: String, seconds: Double)
    /// No reply to a client without keys: most likely the coordinator runs CURVE and never completed the handshake.
    case noReplyWithoutKeys(coordinator: String, seconds: Double)
    case rejected(code: String, message: String)
    case protocolViolation(ProtocolError)
    case unexpectedReply(MessageType)

    public var description: String {
        switch self {
        case .transport(let error): "\(error)"
        case .noReply(let coordinator, let seconds):
            "no reply from the coordinator at \(coordinator) within \(seconds) s; is `tailforge coordinator` running and reachable? "
                + "It answers only keys in its allow-list: check that your .pub is in its clients/ directory and that --coordinator-key is its public key"
        case .noReplyWithoutKeys(let coordinator, let seconds):
            "no reply from the coordinator at \(coordinator) within \(seconds) s, and this command connected in plain text without keys: "
                + "a coordinator started without --insecure speaks CURVE only, so pass --key FILE --coordinator-key FILE.pub "
                + "(or set TAILFORGE_KEY and TAILFORGE_COORDINATOR_KEY); otherwise check that `tailforge coordinator` is running and reachable"
        case .rejected(let code, let message): "the coordinator refused the request (\(code)): \(message)"
        case .protocolViolation(let error): "the coordinator's reply was invalid: \(error)"
        case .unexpectedReply(let type): "the coordinator answered with an unexpected \(type) message"
        }
    }
}

/// The client side of `submit`, `status`, `cancel` and `replay`: one DEALER, one thread, request/reply.
public final class ClusterClient {
    private let socket: ZMQSocket
    public let coordinator: String
    public var timeoutSeconds: Double
    /// Whether the socket speaks CURVE (for the hint when nothing answers).
    private let secure: Bool

    public init(coordinator: String, timeoutSeconds: Double = 10, security: SocketSecurity = .plaintext) throws(ClusterClientError) {
        self.coordinator = coordinator
        self.timeoutSeconds = timeoutSeconds
        secure = security.isSecure
        do {
            let factory = SocketFactory(context: try ZMQContext(), security: security)
            // A refused handshake leaves no connection to queue on: without a send timeout the second request
            // would block forever.
            socket = try factory.makeDealer(connecting: coordinator, identity: Array("client-\(UUID().uuidString)".utf8),
                                            sendTimeoutMilliseconds: Int32(min(max(timeoutSeconds, 0.1), 3_600) * 1000))
        } catch { throw .transport(error) }
    }

    private func receive(timeoutSeconds: Double) throws(ClusterClientError) -> WireMessage {
        do {
            guard try socket.waitForInput(timeoutMilliseconds: Int(timeoutSeconds * 1000)), let frames = try socket.receive() else {
                throw noReply(timeoutSeconds)
            }
            let message: WireMessage
            do { message = try WireMessage.decode(frames) } catch { throw ClusterClientError.protocolViolation(error) }
            if let error = message.body(as: ErrorReply.self) { throw ClusterClientError.rejected(code: error.code, message: error.message) }
            return message
        } catch let error as ClusterClientError {
            throw error
        } catch let error as ZMQError {
            throw .transport(error)
        } catch {
            throw noReply(timeoutSeconds)
        }
    }

    private func noReply(_ seconds: Double) -> ClusterClientError {
        secure ? .noReply(coordinator: coordinator, seconds: seconds) : .noReplyWithoutKeys(coordinator: coordinator, seconds: seconds)
    }

    private func send(_ message: WireMessage) throws(ClusterClientError) {
        do { try socket.send(message.encode()) } catch {
            // The send timeout: nothing could be queued, so no connection exists (a refused handshake).
            if error == .wouldBlock { throw noReply(timeoutSeconds) }
            throw .transport(error)
        }
    }

    private func call<Reply: WireBody>(_ body: some WireBody, expecting _: Reply.Type) throws(ClusterClientError) -> Reply {
        try send(WireMessage(body))
        let message = try receive(timeoutSeconds: timeoutSeconds)
        guard let reply = message.body(as: Reply.self) else { throw .unexpectedReply(message.type) }
        return reply
    }

    /// Submits a job; returns its id.
    public func submit(_ manifest: JobManifest) throws(ClusterClientError) -> String {
        try call(SubmitJob(manifest: manifest), expecting: JobAccepted.self).job
    }

    /// Jobs (one or all) and workers.
    public func status(job: String? = nil) throws(ClusterClientError) -> StatusReply {
        try call(StatusRequest(job: job), expecting: StatusReply.self)
    }

    /// Cancels a job.
    public func cancel(job: String) throws(ClusterClientError) -> CancelReply {
        try call(CancelJob(job: job), expecting: CancelReply.self)
    }

    /// Follows a job until it ends, calling `update` with every progress report; returns the final status.
    /// Silence longer than the timeout (no report arrives at least once a second while a job runs) is an error;
    /// `follow` re-attaches instead.
    public func watch(job: String, update: (JobStatus) -> Void) throws(ClusterClientError) -> JobStatus {
        try startWatching(job: job)
        while true {
            let status = try nextProgress()
            update(status)
            if status.state.isTerminal { return status }
        }
    }

    func startWatching(job: String) throws(ClusterClientError) {
        try send(WireMessage(WatchJob(job: job)))
    }

    func nextProgress() throws(ClusterClientError) -> JobStatus {
        while true {
            if let progress = try receive(timeoutSeconds: timeoutSeconds).body(as: JobProgress.self) { return progress.status }
        }
    }

    /// Follows `job` on `coordinator` until it ends, like `watch`, but rides out a coordinator restart: after
    /// `silenceSeconds` without a report (the coordinator reports every second) it reconnects with a fresh socket
    /// and watches again, and gives up only when the coordinator has been silent for `timeoutSeconds`.
    /// `reconnecting` is told how long the coordinator has been silent before each new attempt.
    public static func follow(job: String, coordinator: String, timeoutSeconds: Double, silenceSeconds: Double = 3,
                              security: SocketSecurity = .plaintext,
                              update: (JobStatus) -> Void, reconnecting: (Double) -> Void = { _ in }) throws(ClusterClientError) -> JobStatus {
        var lastHeard = Date()
        var client: ClusterClient?
        while true {
            do throws(ClusterClientError) {
                if client == nil {
                    let fresh = try ClusterClient(coordinator: coordinator, timeoutSeconds: min(silenceSeconds, max(0.1, timeoutSeconds)),
                                                  security: security)
                    try fresh.startWatching(job: job)
                    client = fresh
                }
                let status = try client!.nextProgress()
                lastHeard = Date()
                update(status)
                if status.state.isTerminal { return status }
            } catch {
                switch error {
                case .noReply, .noReplyWithoutKeys, .transport:
                    let silent = Date().timeIntervalSince(lastHeard)
                    if silent >= timeoutSeconds { throw .noReply(coordinator: coordinator, seconds: (silent * 10).rounded() / 10) }
                    client = nil
                    reconnecting(silent)
                default:
                    throw error
                }
            }
        }
    }
}
