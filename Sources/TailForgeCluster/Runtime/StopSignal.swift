import Synchronization

/// A one-way flag a daemon's loop polls between waits; set from a signal handler task or a test.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    /// Asks the loop to stop at its next turn.
    public func stop() { flag.store(true, ordering: .releasing) }

    /// True once `stop()` was called.
    public var isStopped: Bool { flag.load(ordering: .acquiring) }
}
