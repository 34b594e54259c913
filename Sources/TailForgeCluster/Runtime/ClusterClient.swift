import Foundation

/// Why a client request failed.
public enum ClusterClientError: Error, CustomStringConvertible {
    case transport(ZMQError)
    case noReply(coordinator: String, seconds: Double)
    case rejected(code: String, message: String)
    case protocolViolation(ProtocolError)
    case unexpectedReply(MessageType)

    public var description: String {
        switch self {
        case .transport(let error): "\(error)"
        case .noReply(let coordinator, let seconds):
            "no reply from the coordinator at \(coordinator) within \(seconds) s; is `tailforge coordinator` running and reachable?"
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

    public init(coordinator: String, timeoutSeconds: Double = 10) throws(ClusterClientError) {
        self.coordinator = coordinator
        self.timeoutSeconds = timeoutSeconds
        do {
            let factory = SocketFactory(context: try ZMQContext())
            socket = try factory.makeDealer(connecting: coordinator, identity: Array("client-\(UUID().uuidString)".utf8))
        } catch { throw .transport(error) }
    }

    private func receive(timeoutSeconds: Double) throws(ClusterClientError) -> WireMessage {
        do {
            guard try socket.waitForInput(timeoutMilliseconds: Int(timeoutSeconds * 1000)), let frames = try socket.receive() else {
                throw ClusterClientError.noReply(coordinator: coordinator, seconds: timeoutSeconds)
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
            throw .noReply(coordinator: coordinator, seconds: timeoutSeconds)
        }
    }

    private func call<Reply: WireBody>(_ body: some WireBody, expecting _: Reply.Type) throws(ClusterClientError) -> Reply {
        do { try socket.send(WireMessage(body).encode()) } catch { throw .transport(error) }
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
    /// Silence longer than the timeout (no report arrives at least once a second while a job runs) is an error.
    public func watch(job: String, update: (JobStatus) -> Void) throws(ClusterClientError) -> JobStatus {
        do { try socket.send(WireMessage(WatchJob(job: job)).encode()) } catch { throw .transport(error) }
        while true {
            let message = try receive(timeoutSeconds: timeoutSeconds)
            guard let progress = message.body(as: JobProgress.self) else { continue }
            update(progress.status)
            if progress.status.state.isTerminal { return progress.status }
        }
    }
}
