import Synchronization

/// The one way other threads hand work to the thread that owns a ZeroMQ socket: values go into a queue and a
/// one-byte message on an inproc PAIR socket wakes the owner's poll at once (no polling interval, so a gradient
/// reply leaves the moment it is ready).
///
/// The owner creates it with ``make(factory:)``, keeps the returned `wake` socket on its own thread, polls it with
/// its other sockets and calls ``drain(_:)`` when it is readable. `post` may be called from any thread: the sending
/// end is used under a mutex, the full memory barrier ZeroMQ asks for when a socket moves between threads.
final class SocketMailbox<Value: Sendable>: Sendable {
    private let queue = Mutex<[Value]>([])
    private let sender: Mutex<ZMQSocket?>

    private init(sender: consuming sending ZMQSocket) {
        self.sender = Mutex(sender)
    }

    /// A mailbox and the receiving socket its owner polls. Both ends share `factory`'s context (inproc needs it).
    static func make(factory: SocketFactory) throws(ZMQError) -> (mailbox: SocketMailbox<Value>, wake: ZMQSocket) {
        let endpoint = "inproc://tailforge-mailbox-\(UInt64.random(in: 0 ... .max))"
        let wake = try factory.makePair(binding: endpoint)
        let sender = try factory.makePair(connecting: endpoint)
        return (SocketMailbox(sender: sender), wake)
    }

    /// Queues `values` and wakes the owner. After ``close()`` values are dropped (the owner has stopped).
    func post(_ values: [Value]) {
        guard !values.isEmpty else { return }
        sender.withLock { socket in
            guard let socket else { return }
            queue.withLock { $0.append(contentsOf: values) }
            // A full pipe (EAGAIN) means wake-ups are already pending, and one is enough.
            try? socket.send([[]], dontWait: true)
        }
    }

    func post(_ value: Value) { post([value]) }

    /// Wakes the owner with nothing queued (to make it look at a stop flag at once).
    func wake() {
        sender.withLock { socket in _ = try? socket?.send([[]], dontWait: true) }
    }

    /// Everything queued so far, in order, after consuming the pending wake-ups on `wake`.
    func drain(_ wake: ZMQSocket) -> [Value] {
        while (try? wake.receive(dontWait: true)) != nil {}
        return queue.withLock { values in
            defer { values.removeAll() }
            return values
        }
    }

    /// True when nothing is queued.
    var isEmpty: Bool { queue.withLock { $0.isEmpty } }

    /// Closes the sending end; later posts are dropped. The owner calls it before closing `wake`.
    func close() {
        sender.withLock { socket in
            socket?.close()
            socket = nil
        }
    }
}
