import Foundation

/// Waits that suspend instead of blocking, so tests that wait on processes and files do not hold a thread of
/// Swift's cooperative pool (one per core) that every other test needs.
extension Process {
    /// Suspends until the process has exited (at once if it already has).
    func exited() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = ResumeOnce(continuation)
            terminationHandler = { _ in resumed.resume() }
            // It may have exited before the handler was set.
            if !isRunning { resumed.resume() }
        }
    }
}

/// Polls `condition` every `interval` until it holds or `seconds` pass; true when it held.
func eventually(seconds: Double, interval: Duration = .milliseconds(10), _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try condition()
}

private final class ResumeOnce: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
    func resume() {
        lock.lock()
        let pending = continuation
        continuation = nil
        lock.unlock()
        pending?.resume()
    }
}
