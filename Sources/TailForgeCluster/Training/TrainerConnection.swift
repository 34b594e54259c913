import Foundation
import Logging
import Synchronization
import TailForgeNumerics

/// Receives what arrives on a ``TrainerConnection`` (on its network thread).
protocol TrainerMessageHandler: Sendable {
    func receive(_ message: WireMessage)
    /// Called at least every ``TrainerConnection/tickMilliseconds`` so waits can time out.
    func tick(now: ContinuousClock.Instant)
    /// The transport gave up (a job's trainer whose job was cancelled): fail the wait with `error`.
    func abort(_ error: any Error)
}

/// How a trainer reaches the coordinator: a ZeroMQ connection (``TrainerConnection``, `train --distributed`), or
/// the coordinator's own loop for the trainer of a job with a `train:` section (``LocalTrainerLink``).
protocol TrainerTransport: Sendable {
    /// The coordinator's endpoint, for messages.
    var coordinator: String { get }
    func send(_ messages: [WireMessage])
    func setHandler(_ new: (any TrainerMessageHandler)?)
    func close()
}

/// The trainer's DEALER connection to the coordinator. The socket lives on one network thread for its whole
/// life; other threads hand it messages through `send` (a ``SocketMailbox``, which wakes the thread at once)
/// and get replies through the current handler.
final class TrainerConnection: TrainerTransport {
    /// The longest the network thread sleeps between handler ticks.
    static let tickMilliseconds = 20

    let coordinator: String
    private let mailbox = Mutex<SocketMailbox<WireMessage>?>(nil)
    private let handler = Mutex<(any TrainerMessageHandler)?>(nil)
    private let stop = StopSignal()
    private let finished = DispatchSemaphore(value: 0)

    /// Connects (on a new network thread); throws when the socket cannot be created.
    init(coordinator: String, sockets: SocketSettings, security: SocketSecurity = .plaintext, limits: WireLimits,
         logger: Logger) throws(DistributedTrainingError) {
        self.coordinator = coordinator
        let ready = DispatchSemaphore(value: 0)
        let setupError = Mutex<ZMQError?>(nil)
        // The thread keeps `self` alive until `close()` stops it.
        ComputePool.startThread(named: "tailforge-trainer-network") { [self] in
            defer { finished.signal() }
            let socket: ZMQSocket, wake: ZMQSocket, outbox: SocketMailbox<WireMessage>
            do throws(ZMQError) {
                let factory = SocketFactory(context: try ZMQContext(), settings: sockets, security: security)
                socket = try factory.makeDealer(connecting: coordinator, identity: Array("trainer-\(UUID().uuidString)".utf8))
                (outbox, wake) = try SocketMailbox<WireMessage>.make(factory: factory)
            } catch {
                setupError.withLock { $0 = error }
                ready.signal()
                return
            }
            mailbox.withLock { $0 = outbox }
            ready.signal()
            while !stop.isStopped {
                let readable = (try? ZMQSocket.poll([socket, wake], timeoutMilliseconds: Self.tickMilliseconds)) ?? [false, false]
                if readable[0] {
                    while let frames = (try? socket.receive(dontWait: true)) ?? nil {
                        do {
                            let message = try WireMessage.decode(frames, limits: limits)
                            handler.withLock { $0 }?.receive(message)
                        } catch {
                            logger.warning("trainer rejected a message from the coordinator: \(error)")
                        }
                    }
                }
                // Drained every turn, not only when `wake` is readable: a handler above may have queued replies.
                for message in outbox.drain(wake) {
                    do { try socket.send(message.encode()) } catch {
                        logger.warning("trainer: sending \(message.type) to \(coordinator) failed: \(error)")
                    }
                }
                handler.withLock { $0 }?.tick(now: .now)
            }
            // Whatever was queued before `close()` still goes out (the socket lingers to flush it).
            outbox.close()
            for message in outbox.drain(wake) { try? socket.send(message.encode(), dontWait: true) }
            wake.close()
            socket.close()
        }
        ready.wait()
        if let error = setupError.withLock({ $0 }) { throw .transport(coordinator: coordinator, error) }
    }

    /// Queues messages for the network thread and wakes it.
    func send(_ messages: [WireMessage]) {
        mailbox.withLock { $0 }?.post(messages)
    }

    /// Routes received messages to `handler` from now on (nil drops them).
    func setHandler(_ new: (any TrainerMessageHandler)?) {
        handler.withLock { $0 = new }
    }

    /// Must be called once done (the network thread holds the connection until then). Sends what is queued,
    /// then stops the network thread and closes the socket (lingering briefly to flush).
    func close() {
        guard !stop.isStopped else { return }
        stop.stop()
        mailbox.withLock { $0 }?.wake()
        finished.wait()
    }
}
