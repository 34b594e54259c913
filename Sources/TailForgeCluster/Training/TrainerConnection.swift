import Foundation
import Logging
import Synchronization

/// Receives what arrives on a ``TrainerConnection`` (on its network thread).
protocol TrainerMessageHandler: Sendable {
    func receive(_ message: WireMessage)
    /// Called every network-loop turn (every few milliseconds) so waits can time out.
    func tick(now: ContinuousClock.Instant)
}

/// The trainer's DEALER connection to the coordinator. The socket lives on one network thread for its whole
/// life; other threads hand it messages through `send` and get replies through the current handler.
final class TrainerConnection: Sendable {
    let coordinator: String
    private let outbox = Mutex<[WireMessage]>([])
    private let handler = Mutex<(any TrainerMessageHandler)?>(nil)
    private let stop = StopSignal()
    private let finished = DispatchSemaphore(value: 0)

    /// Connects (on a new network thread); throws when the socket cannot be created.
    init(coordinator: String, sockets: SocketSettings, limits: WireLimits, logger: Logger) throws(DistributedTrainingError) {
        self.coordinator = coordinator
        let ready = DispatchSemaphore(value: 0)
        let setupError = Mutex<ZMQError?>(nil)
        // The thread keeps `self` alive until `close()` stops it.
        let thread = Thread { [self] in
            defer { finished.signal() }
            let socket: ZMQSocket
            do throws(ZMQError) {
                let context = try ZMQContext()
                socket = try SocketFactory(context: context, settings: sockets)
                    .makeDealer(connecting: coordinator, identity: Array("trainer-\(UUID().uuidString)".utf8))
            } catch {
                setupError.withLock { $0 = error }
                ready.signal()
                return
            }
            ready.signal()
            while !stop.isStopped {
                // A short wait: messages queued by other threads go out within 2 ms.
                if (try? socket.waitForInput(timeoutMilliseconds: 2)) == true {
                    while let frames = (try? socket.receive(dontWait: true)) ?? nil {
                        do {
                            let message = try WireMessage.decode(frames, limits: limits)
                            handler.withLock { $0 }?.receive(message)
                        } catch {
                            logger.warning("trainer rejected a message from the coordinator: \(error)")
                        }
                    }
                }
                for message in outbox.withLock({ box in defer { box.removeAll() }; return box }) {
                    do { try socket.send(message.encode()) } catch {
                        logger.warning("trainer: sending \(message.type) to \(coordinator) failed: \(error)")
                    }
                }
                handler.withLock { $0 }?.tick(now: .now)
            }
            socket.close()
        }
        thread.name = "tailforge-trainer-network"
        thread.start()
        ready.wait()
        if let error = setupError.withLock({ $0 }) { throw .transport(coordinator: coordinator, error) }
    }

    /// Queues messages for the network thread.
    func send(_ messages: [WireMessage]) {
        outbox.withLock { $0.append(contentsOf: messages) }
    }

    /// Routes received messages to `handler` from now on (nil drops them).
    func setHandler(_ new: (any TrainerMessageHandler)?) {
        handler.withLock { $0 = new }
    }

    /// Must be called once done (the network thread holds the connection until then). Flushes queued messages, then stops the network thread and closes the socket (lingering briefly).
    func close() {
        guard !stop.isStopped else { return }
        let deadline = ContinuousClock.now + .seconds(1)
        while !outbox.withLock({ $0.isEmpty }), ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
        stop.stop()
        finished.wait()
    }
}
