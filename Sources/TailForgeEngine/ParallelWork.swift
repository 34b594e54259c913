import Foundation
import Synchronization

/// Runs `body(item)` for every item of `items` on `threads` threads, items taken in the given order (put the
/// most expensive first for a good finish). Returns the first error thrown, after all threads stop.
func parallelForEach(_ items: [Int], threads: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    let next = Atomic<Int>(0)
    let firstError = Mutex<(any Error)?>(nil)
    let work: @Sendable () -> Void = {
        while firstError.withLock({ $0 == nil }) {
            let i = next.add(1, ordering: .relaxed).oldValue
            guard i < items.count else { return }
            do { try body(items[i]) } catch { firstError.withLock { if $0 == nil { $0 = error } } }
        }
    }
    runOnThreads(max(1, min(threads, items.count)), work)
    if let error = firstError.withLock({ $0 }) { throw error }
}

/// Produces items 0..<count on `threads` threads and hands them to `consume` on the calling thread strictly
/// in index order, with at most `window` items produced ahead of the consumer (so memory stays bounded while
/// output is streamed in order).
func orderedPipeline<T: Sendable>(
    count: Int, threads: Int, window: Int,
    produce: @escaping @Sendable (Int) -> T, consume: (Int, T) throws -> Void
) throws {
    let state = PipelineState<T>()
    let producer: @Sendable () -> Void = {
        while let index = state.claim(below: count, window: window) {
            state.deliver(index, produce(index))
        }
    }
    let group = DispatchGroup()
    let workers = max(1, min(threads, count))
    for _ in 0..<workers {
        let thread = Thread { producer(); group.leave() }
        thread.stackSize = 8 << 20
        group.enter()
        thread.start()
    }
    defer {
        state.cancel()
        group.wait()
    }
    for index in 0..<count {
        try consume(index, state.take(index))
    }
}

private final class PipelineState<T: Sendable>: @unchecked Sendable {
    // All fields guarded by `condition`.
    private let condition = NSCondition()
    private var ready: [Int: T] = [:]
    private var nextToClaim = 0
    private var nextToTake = 0
    private var cancelled = false

    func claim(below count: Int, window: Int) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled, nextToClaim < count, nextToClaim - nextToTake >= window { condition.wait() }
        guard !cancelled, nextToClaim < count else { return nil }
        defer { nextToClaim += 1 }
        return nextToClaim
    }

    func deliver(_ index: Int, _ value: T) {
        condition.lock()
        ready[index] = value
        condition.broadcast()
        condition.unlock()
    }

    func take(_ index: Int) -> T {
        condition.lock()
        defer { condition.unlock() }
        while ready[index] == nil { condition.wait() }
        nextToTake = index + 1
        condition.broadcast()
        return ready.removeValue(forKey: index)!
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Runs `work` on `count` dedicated threads (large stacks, so deep numeric code is safe) and waits for them.
func runOnThreads(_ count: Int, _ work: @escaping @Sendable () -> Void) {
    let group = DispatchGroup()
    for _ in 0..<count {
        group.enter()
        let thread = Thread { work(); group.leave() }
        thread.stackSize = 8 << 20
        thread.start()
    }
    group.wait()
}

/// Starts `work` on its own thread; the returned function waits for it and returns its result.
func inBackground<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) -> () -> Result<T, E> {
    let result = Mutex<Result<T, E>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread {
        let value = Result { () throws(E) in try work() }
        result.withLock { $0 = value }
        done.signal()
    }.start()
    return {
        done.wait()
        done.signal()  // later calls return at once
        return result.withLock { $0! }
    }
}
