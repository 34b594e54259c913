import Foundation
import Synchronization
import Testing
@testable import TailForgeNumerics

@Suite struct ComputePoolTests {
    /// Counts how often each index ran.
    final class Tally: Sendable {
        let counts: Mutex<[Int]>
        init(_ n: Int) { counts = Mutex([Int](repeating: 0, count: n)) }
        func hit(_ i: Int) { counts.withLock { $0[i] += 1 } }
        var values: [Int] { counts.withLock { $0 } }
    }

    struct Boom: Error, Equatable { let index: Int }

    @Test(arguments: [(0, 3), (1, 1), (7, 1), (7, 3), (100, 4), (5, 64)])
    func forEachRunsEveryIndexExactlyOnce(count: Int, width: Int) {
        let tally = Tally(count)
        ComputePool.forEach(count, width: width) { tally.hit($0) }
        #expect(tally.values == [Int](repeating: 1, count: count))
    }

    #if os(Linux)
    /// Under `nice -n 19 tailforge …` the work must run at 19: a thread the pool starts takes the main thread's
    /// niceness, not that of the thread that happened to start it (here a test thread at the test process's 0).
    @Test func aThreadItStartsTakesTheMainThreadsNiceness() throws {
        let which = __priority_which_t(PRIO_PROCESS.rawValue), main = id_t(getpid())
        errno = 0
        let before = getpriority(which, main)
        try #require(errno == 0 && before < 19)
        errno = 0
        let starter = getpriority(which, 0)
        let target = Swift.max(before, starter) + 1
        try #require(setpriority(which, main, target) == 0)
        defer { _ = setpriority(which, main, before) }  // lowering it back needs root; otherwise it stays, harmlessly
        let seen = Mutex<Int32?>(nil)
        let done = DispatchSemaphore(value: 0)
        ComputePool.startThread(named: "niceness-probe") {
            errno = 0
            let value = getpriority(which, 0)
            seen.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        #expect(seen.withLock { $0 } == target)
    }
    #endif

    @Test func forEachNeverRunsMoreThanWidthIndicesAtOnce() {
        let running = Atomic<Int>(0), highest = Mutex(0)
        ComputePool.forEach(64, width: 3) { _ in
            let now = running.add(1, ordering: .relaxed).newValue
            highest.withLock { $0 = max($0, now) }
            for _ in 0..<10_000 { _ = running.load(ordering: .relaxed) }
            running.subtract(1, ordering: .relaxed)
        }
        #expect(highest.withLock { $0 } <= 3)
    }

    final class Canary: Sendable {}

    /// A writer released after an append must go at once (its deinit removes its temporary file): whatever a call's
    /// body captured is let go by the time the call returns, even when the caller ran every index itself and a
    /// helper slot was still queued, or a helper that came late still holds the job.
    @Test func whatTheBodyCapturedIsReleasedWhenTheCallReturns() throws {
        for width in [2, 3, 8] {
            for _ in 0..<200 {
                weak var released: Canary?
                do {
                    let canary = Canary()
                    released = canary
                    ComputePool.forEach(2, width: width) { _ in _ = canary }
                }
                #expect(released == nil, "width \(width)")
                if released != nil { return }
            }
        }
        weak var released: Canary?
        do {
            let canary = Canary()
            released = canary
            ComputePool.orderedPipeline(count: 3, width: 2, window: 1, produce: { i in canary === canary ? i : 0 }, consume: { _, _ in })
        }
        #expect(released == nil)
    }

    @Test func nestedCallsFinishEvenWhenWiderThanThePool() {
        // Every outer index runs a wide inner loop: the callers take part, so this cannot deadlock.
        let tally = Tally(16 * 16)
        ComputePool.forEach(16, width: 16) { outer in
            ComputePool.forEach(16, width: 16) { inner in tally.hit(outer * 16 + inner) }
        }
        #expect(tally.values == [Int](repeating: 1, count: 256))
    }

    @Test func aThrowStopsNewIndicesAndRethrowsTheError() {
        let ran = Atomic<Int>(0)
        #expect(throws: Boom(index: 0)) {
            try ComputePool.forEach(10_000, width: 1) { (i: Int) throws(Boom) in
                ran.add(1, ordering: .relaxed)
                if i == 0 { throw Boom(index: 0) }
            }
        }
        #expect(ran.load(ordering: .relaxed) == 1)
    }

    @Test func asyncForEachSuspendsAndRunsEveryIndex() async throws {
        let tally = Tally(50)
        await ComputePool.forEach(50, width: 4) { tally.hit($0) }
        #expect(tally.values == [Int](repeating: 1, count: 50))
        await #expect(throws: Boom(index: 3)) {
            try await ComputePool.forEach(4, width: 4) { (i: Int) throws(Boom) in if i == 3 { throw Boom(index: 3) } }
        }
    }

    @Test func runReturnsTheResultOfBlockingWork() async throws {
        #expect(await ComputePool.run { 6 * 7 } == 42)
        await #expect(throws: Boom(index: 9)) { try await ComputePool.run { () throws(Boom) in throw Boom(index: 9) } }
    }

    @Test(arguments: [1, 2, 5])
    func orderedPipelineDeliversInOrderWithinTheWindow(width: Int) throws {
        let produced = Atomic<Int>(0)
        var consumed: [Int] = []
        var furthestAhead = 0
        ComputePool.orderedPipeline(count: 200, width: width, window: 3, produce: { i in
            produced.add(1, ordering: .relaxed)
            return i * i
        }, consume: { i, value in
            furthestAhead = max(furthestAhead, produced.load(ordering: .relaxed) - i)
            consumed.append(value)
        })
        #expect(consumed == (0..<200).map { $0 * $0 })
        // At most `window` items beyond the one being consumed, plus the one each producer may be finishing.
        #expect(furthestAhead <= 3 + 1 + width)
    }

    @Test func orderedPipelineStopsAtAConsumerError() {
        let produced = Atomic<Int>(0)
        #expect(throws: Boom(index: 5)) {
            try ComputePool.orderedPipeline(count: 10_000, width: 2, window: 2, produce: { i in
                produced.add(1, ordering: .relaxed)
                return i
            }, consume: { (i: Int, _: Int) throws(Boom) in if i == 5 { throw Boom(index: 5) } })
        }
        #expect(produced.load(ordering: .relaxed) < 100)
    }

    @Test func inBackgroundHandsBackTheResultEveryTime() throws {
        let wait = ComputePool.inBackground(named: "test") { () throws(Boom) in 11 }
        #expect(try wait().get() == 11)
        #expect(try wait().get() == 11)
    }

    @Test func usingThePoolLeavesOpenBLASOnOneThread() {
        ComputePool.forEach(2, width: 2) { _ in }
        #expect(BLAS.threadCount == 1)
    }
}
