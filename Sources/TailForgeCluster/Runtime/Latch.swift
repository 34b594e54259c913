import Synchronization

/// A flag one thread opens once and others wait for: "the coordinator holds its state directory", "the HTTP
/// server is listening". (``StopSignal`` is the same flag, named for asking a loop to stop.)
public final class Latch: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func open() { flag.store(true, ordering: .releasing) }

    public var isOpen: Bool { flag.load(ordering: .acquiring) }

    /// Returns once open, or throws `CancellationError` when the task is cancelled first. It polls (every 10 ms):
    /// it waits only for a daemon's start, where a few milliseconds do not matter and no waiter list is needed.
    public func wait() async throws {
        while !isOpen { try await Task.sleep(for: .milliseconds(10)) }
    }
}
