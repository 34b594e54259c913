import Foundation
import Synchronization

/// The one way TailForge runs data-parallel work: a process-wide set of long-lived threads (8 MB stacks, so deep
/// numeric code is safe) that help whoever asks.
///
/// - ``forEach(_:width:_:)-(_,_,_)`` runs `body(0..<count)` on at most `width` threads; the calling thread takes
///   part, so a nested call, or a call while every pool thread is busy, still finishes (on fewer threads).
/// - The `async` overload suspends instead of blocking, for callers on Swift's cooperative pool; ``run(_:)`` does
///   one piece of blocking work that way.
/// - ``orderedPipeline(count:width:window:produce:consume:)`` streams results to the caller in index order.
/// - ``startThread(named:_:)`` is for work that is not data-parallel and runs long (a daemon loop, a shard, a
///   file digest beside a read): a dedicated thread, so it never holds a pool thread for minutes.
///
/// Using the pool pins OpenBLAS to one thread (``BLAS/useOneThread()``): the parallelism is ours, BLAS
/// does not oversubscribe the cores, and no result depends on how BLAS would split its work.
public enum ComputePool {
    /// Runs `body(i)` for every `i` in `0..<count` on at most `width` threads (the caller's included) and returns
    /// once all have finished. Indices are taken in increasing order (put the most expensive first for a good
    /// finish). After a throw no new index starts; the first error is rethrown once the running ones finish.
    public static func forEach<E: Error>(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) throws(E) -> Void) throws(E) {
        guard count > 0 else { return }
        let job = PoolJob(count: count, body: body)
        PoolThreads.shared.enqueue(job, helpers: min(max(width, 1), count) - 1)
        job.participate()
        job.waitUntilDone()
        PoolThreads.shared.withdraw(job)
        if let error = job.error { throw error as! E }
    }

    /// As ``forEach(_:width:_:)-(_,_,_)``, from async code: the calling task suspends and only pool threads compute,
    /// so Swift's cooperative threads are never blocked.
    public static func forEach<E: Error>(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) throws(E) -> Void) async throws(E) {
        guard count > 0 else { return }
        let job = PoolJob(count: count, body: body)
        await withCheckedContinuation { continuation in
            job.onDone { continuation.resume() }
            PoolThreads.shared.enqueue(job, helpers: min(max(width, 1), count))
        }
        if let error = job.error { throw error as! E }
    }

    /// Runs blocking `work` (file I/O, a whole computation) on a pool thread while the calling task suspends, and
    /// returns its result: how async code does blocking work without holding a cooperative thread.
    public static func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result = ConcurrentResults<Result<T, E>>(count: 1)
        await forEach(1, width: 1) { _ in result.set(0, Result { () throws(E) in try work() }) }
        return try result.values[0]!.get()
    }

    /// Produces items `0..<count` on up to `width` threads and hands them to `consume` on the calling thread
    /// strictly in index order, with at most `window` items produced ahead of the consumer (memory stays bounded
    /// while output streams in order). A throw from `consume` stops production and is rethrown.
    public static func orderedPipeline<T: Sendable, E: Error>(
        count: Int, width: Int, window: Int,
        produce: @escaping @Sendable (Int) -> T, consume: (Int, T) throws(E) -> Void
    ) throws(E) {
        guard count > 0 else { return }
        let state = PipelineState<T>(count: count, window: max(window, 1))
        let producers = PoolJob(count: min(max(width, 1), count)) { (_: Int) throws(Never) in
            while let index = state.claim() { state.deliver(index, produce(index)) }
        }
        PoolThreads.shared.enqueue(producers, helpers: producers.count)
        defer {
            state.cancel()
            // Producer slots no pool thread has picked up yet run here (and return at once).
            producers.participate()
            producers.waitUntilDone()
            PoolThreads.shared.withdraw(producers)
        }
        for index in 0..<count {
            // The consumer produces an item itself when no producer has claimed it, so the pipeline finishes even
            // when every pool thread is busy elsewhere.
            let value = state.claimIfUnclaimed(index) ? produce(index) : state.take(index)
            try consume(index, value)
        }
    }

    /// Starts `work` on a dedicated thread and returns a function that waits for its result (later calls return
    /// the same result at once).
    public static func inBackground<T: Sendable, E: Error>(named name: String, _ work: @escaping @Sendable () throws(E) -> T) -> () -> Result<T, E> {
        let result = Mutex<Result<T, E>?>(nil)
        let done = DispatchSemaphore(value: 0)
        startThread(named: name) {
            let value = Result { () throws(E) in try work() }
            result.withLock { $0 = value }
            done.signal()
        }
        return {
            done.wait()
            done.signal()
            return result.withLock { $0! }
        }
    }

    /// Runs long, non-data-parallel `work` on a new dedicated thread with an 8 MB stack.
    public static func startThread(named name: String, _ work: @escaping @Sendable () -> Void) {
        let thread = Thread { PoolThreads.followMainThreadNiceness(); work() }
        thread.name = name
        thread.stackSize = PoolThreads.stackSize
        thread.start()
    }

    /// Number of pool threads started so far (they grow to the widest request and stay parked when idle).
    public static var threadCount: Int { PoolThreads.shared.threadCount }
}

/// One call's indices, shared between the caller and the pool threads that help it.
final class PoolJob: Sendable {
    let count: Int
    /// Dropped when the last index finishes, so that what it captured (rows, a writer) is released when the call
    /// returns, not whenever the last pool thread that saw the job lets go of it.
    private let body: Mutex<(@Sendable (Int) throws -> Void)?>
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let failure = Mutex<(any Error)?>(nil)
    private let completion = Mutex<(done: Bool, waiters: [@Sendable () -> Void])>((false, []))
    private let doneSignal = DispatchSemaphore(value: 0)

    init(count: Int, body: @escaping @Sendable (Int) throws -> Void) {
        self.count = count
        self.body = Mutex(body)
    }

    var error: (any Error)? { failure.withLock { $0 } }

    /// Takes and runs indices until none is left; after a throw the remaining ones are only counted.
    func participate() {
        while true {
            let index = next.add(1, ordering: .relaxed).oldValue
            guard index < count else { return }
            if failure.withLock({ $0 == nil }), let body = body.withLock({ $0 }) {
                do { try body(index) } catch { failure.withLock { if $0 == nil { $0 = error } } }
            }
            finish()
        }
    }

    private func finish() {
        guard finished.add(1, ordering: .acquiringAndReleasing).newValue == count else { return }
        body.withLock { $0 = nil }
        let waiters = completion.withLock { state in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        doneSignal.signal()
        for waiter in waiters { waiter() }
    }

    /// Calls `action` once every index has finished (at once if they already have).
    func onDone(_ action: @escaping @Sendable () -> Void) {
        let already = completion.withLock { state in
            if !state.done { state.waiters.append(action) }
            return state.done
        }
        if already { action() }
    }

    func waitUntilDone() {
        doneSignal.wait()
        doneSignal.signal()
    }
}

/// The long-lived threads. Each waits for a job with a free helper slot, helps it until its indices run out,
/// and waits again. Threads are added when a request is wider than the pool, never removed.
final class PoolThreads: @unchecked Sendable {
    static let shared = PoolThreads()
    static let stackSize = 8 << 20
    static let maxThreads = 256

    // All fields guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [(job: PoolJob, helpers: Int)] = []
    private var threads = 0
    private var idle = 0

    private init() {
        BLAS.useOneThread()
    }

    /// Gives the calling (new) thread the main thread's niceness when that is lower priority. Linux keeps a nice
    /// value per thread and a new thread copies its creator's; these threads are often created from a Swift
    /// concurrency worker, which libdispatch runs at nice 0, so under `nice -n 19 tailforge train` the threads
    /// doing all the work ran at 0, taking the cores from everything else. (`PRIO_PROCESS` with a pid names
    /// the thread of that id on Linux, i.e. the main thread; with 0, the calling thread.)
    static func followMainThreadNiceness() {
        #if os(Linux)
        errno = 0
        let main = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getpid()))
        guard errno == 0 else { return }
        errno = 0
        let own = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        guard errno == 0, main > own else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, main)
        #endif
    }

    var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads
    }

    func enqueue(_ job: PoolJob, helpers: Int) {
        guard helpers > 0 else { return }
        condition.lock()
        queue.append((job, helpers))
        let wanted = queue.reduce(0) { $0 + $1.helpers }
        let toStart = min(max(0, wanted - idle), Self.maxThreads - threads)
        threads += toStart
        idle += toStart
        condition.broadcast()
        condition.unlock()
        for index in 0..<toStart {
            let thread = Thread { [self] in Self.followMainThreadNiceness(); serve() }
            thread.name = "tailforge-pool-\(index)"
            thread.stackSize = Self.stackSize
            thread.start()
        }
    }

    /// Removes a finished job's remaining helper slots from the queue: when the caller ran every index before a
    /// helper came, the slot would otherwise keep the job, and all its body captured (rows, a writer that should be
    /// released), until some pool thread got round to it.
    func withdraw(_ job: PoolJob) {
        condition.lock()
        queue.removeAll { $0.job === job }
        condition.unlock()
    }

    private func serve() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let job = queue[0].job
            queue[0].helpers -= 1
            if queue[0].helpers == 0 { queue.removeFirst() }
            idle -= 1
            condition.unlock()

            job.participate()

            condition.lock()
            idle += 1
            condition.unlock()
        }
    }
}

/// Claims, deliveries and the consumer's position of an ordered pipeline.
private final class PipelineState<T: Sendable>: @unchecked Sendable {
    let count: Int
    let window: Int
    // All fields guarded by `condition`.
    private let condition = NSCondition()
    private var ready: [Int: T] = [:]
    private var nextToClaim = 0
    private var nextToTake = 0
    private var cancelled = false

    init(count: Int, window: Int) {
        self.count = count
        self.window = window
    }

    /// The next index for a producer, waiting while the window is full; nil when all are claimed or cancelled.
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled, nextToClaim < count, nextToClaim - nextToTake >= window { condition.wait() }
        guard !cancelled, nextToClaim < count else { return nil }
        defer { nextToClaim += 1 }
        return nextToClaim
    }

    /// For the consumer: claims `index` when no producer has (it is then the next to claim).
    func claimIfUnclaimed(_ index: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard nextToClaim == index else { return false }
        nextToClaim += 1
        nextToTake = index + 1
        condition.broadcast()
        return true
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
