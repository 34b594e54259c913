import Foundation
import Synchronization

/// The transport of a job's trainer running in the process whose network thread carries its messages: inside the
/// coordinator, messages go into the coordinator's loop through its mailbox (as if they had arrived on the socket
/// from `identity`), and what the loop sends to `identity` is handed to the trainer here instead of the socket.
/// Nothing is encoded on the way in; replies relayed from workers are decoded once, like a remote trainer does.
/// Inside the worker a job's `train.trainer` names, `post` queues the messages on the worker's own connection and
/// the worker hands the coordinator's relayed replies to ``deliver(_:)``.
final class LocalTrainerLink: TrainerTransport {
    /// A routing id no ZeroMQ peer has: libzmq reserves ids starting with a zero byte, and its own are 5 bytes.
    let identity: [UInt8]
    let coordinator: String
    private let post: @Sendable ([UInt8], [WireMessage]) -> Void
    private let handler = Mutex<(any TrainerMessageHandler)?>(nil)
    private let aborted = Mutex<(any Error)?>(nil)
    private let stop = StopSignal()

    init(job: String, coordinator: String, post: @escaping @Sendable ([UInt8], [WireMessage]) -> Void) {
        identity = [0] + Array("tailforge-job-trainer/\(job)".utf8)
        self.coordinator = coordinator
        self.post = post
        // Waits time out and ping from ticks, as on a socket's network thread.
        Task.detached { [self] in
            while !stop.isStopped {
                handler.withLock { $0 }?.tick(now: .now)
                try? await Task.sleep(for: .milliseconds(TrainerConnection.tickMilliseconds))
            }
        }
    }

    static func isLocal(_ identity: [UInt8]) -> Bool { identity.count > 5 && identity.first == 0 }

    func send(_ messages: [WireMessage]) {
        post(identity, messages)
    }

    func setHandler(_ new: (any TrainerMessageHandler)?) {
        handler.withLock { $0 = new }
        if let new, let error = aborted.withLock({ $0 }) { new.abort(error) }
    }

    /// A message the coordinator's loop addressed to this trainer.
    func deliver(_ message: WireMessage) {
        handler.withLock { $0 }?.receive(message)
    }

    /// Fails the trainer's current and every later wait with `error` (its job was cancelled or failed).
    func abort(_ error: any Error) {
        aborted.withLock { $0 = error }
        handler.withLock { $0 }?.abort(error)
    }

    func close() {
        stop.stop()
    }
}
