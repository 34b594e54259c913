// Part "engine" of the numerics suite: where the engine's class-by-class draws (`BalanceEngine.synthesize`) spend
// their time against the bare sampler loop. Every variant draws Places-LT tail classes — 4,975 vMF samples around
// 5 centres of one κ, d = 768 — class by class on the compute pool, and reports per CPU-second per thread (the
// threads' own CPU clocks) and the minor page faults per class (`getrusage(RUSAGE_THREAD)`), so that the share of a
// CPU the run got on this shared machine does not decide the comparison.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import TailForgeEngine
import TailForgeNumerics

enum EngineDrawVariants {
    /// What each class's samples are written into, and by whom.
    enum Variant: String, CaseIterable {
        /// The bare loop (`--part vmf`): every sample into the same row, which stays in L1.
        case row = "bare loop, one row"
        /// The bare loop, each sample into its own row of a class block (15 MB, reused across classes).
        case block = "bare loop into a block"
        /// As `block`, with the block zero-filled before the class's draws.
        case zeroedBlock = "bare loop into a zero-filled block"
        /// Each sample drawn into one row (in L1) and copied into its row of the block: the block's memory traffic
        /// without the sampler's passes over a row that is not in cache.
        case copiedToBlock = "bare loop into one row, copied into a block"
        /// `BalanceEngine.synthesize` with blocks in recycled storage (``ClassBlockBuffers``), as `balance` and
        /// compact regeneration run it.
        case engine = "BalanceEngine.synthesize, recycled blocks"
        /// `BalanceEngine.synthesize` with a fresh array for every block.
        case engineFresh = "BalanceEngine.synthesize, fresh blocks"
    }

    static let real = 5, rowsPerClass = 4980

    static func run(points: Matrix, kappa: Double, classes: Int) throws {
        for threads in [1, 2] {
            var lines: [String] = []
            for variant in Variant.allCases {
                lines.append("      \(variant.rawValue): " + (try measure(variant, points: points, kappa: kappa, classes: classes, threads: threads)))
            }
            print("    engine draws, \(threads) thread(s), \(classes) classes of \(rowsPerClass - real) samples:\n" + lines.joined(separator: "\n"))
        }
    }

    /// One variant's figures: samples per CPU-second per thread, samples per second wall, page faults per class.
    static func measure(_ variant: Variant, points: Matrix, kappa: Double, classes: Int, threads: Int) throws -> String {
        let d = points.columns
        let centres = Matrix(rows: real, columns: d, storage: Array(points.storage[0..<(real * d)]))
        let settings = BalanceSettings(seed: 4)
        let plan = try BalancePlan(classSizes: [rowsPerClass] + [Int](repeating: real, count: classes), settings: settings)
        let kappas = [Float](repeating: Float(kappa), count: real)
        let sampler = VonMisesFisherSampler(dimension: d)
        let envelope = sampler.envelope(kappa: Double(Float(kappa)))
        nonisolated(unsafe) let cpuSeconds = UnsafeMutableBufferPointer<Double>.allocate(capacity: classes)
        nonisolated(unsafe) let faults = UnsafeMutableBufferPointer<Int>.allocate(capacity: classes)
        defer { cpuSeconds.deallocate(); faults.deallocate() }
        let buffers = ClassBlockBuffers()
        // The bare variants' blocks: one per thread at most, touched once before the clock starts.
        let spareBlocks = Mutex<[Int]>(Array(0..<threads))
        let rowCount = variant == .row ? 1 : rowsPerClass + 1
        nonisolated(unsafe) let blocks = (0..<threads).map { _ in
            let block = UnsafeMutableBufferPointer<Float>.allocate(capacity: rowCount * d)
            block.initialize(repeating: 0)
            return block
        }
        defer { blocks.forEach { $0.deallocate() } }
        let start = ContinuousClock.now
        ComputePool.forEach(classes, width: threads) { i in
            let cpuStart = threadCPUSeconds(), faultStart = threadMinorFaults()
            switch variant {
            case .engine, .engineFresh:
                let block = BalanceEngine.synthesize(entry: plan.classes[1 + i], classRows: centres, sourceRows: (0..<Int64(real)).map { $0 },
                                                     kappas: kappas, settings: settings,
                                                     reusing: variant == .engine ? buffers.take() : [])
                precondition(block.count == rowsPerClass)
                if variant == .engine { buffers.recycle(block) }
            case .row, .block, .zeroedBlock, .copiedToBlock:
                let slot = spareBlocks.withLock { $0.popLast()! }
                let block = blocks[slot]
                if variant == .zeroedBlock { block.update(repeating: 0) }
                var rng = BalanceEngine.generator(seed: settings.seed, classId: 1 + i)
                centres.storage.withUnsafeBufferPointer { c in
                    for s in 0..<(rowsPerClass - real) {
                        let centre = Int(rng.next() % UInt64(real))
                        let row = variant == .row ? 0 : real + s
                        // The copied variant draws into the block's spare last row, which stays in L1.
                        let drawn = variant == .copiedToBlock ? rowsPerClass : row
                        sampler.sample(mean: UnsafeBufferPointer(rebasing: c[centre * d ..< (centre + 1) * d]), envelope: envelope,
                                       into: UnsafeMutableBufferPointer(rebasing: block[drawn * d ..< (drawn + 1) * d]), using: &rng)
                        if variant == .copiedToBlock {
                            (block.baseAddress! + row * d).update(from: block.baseAddress! + drawn * d, count: d)
                        }
                    }
                }
                spareBlocks.withLock { $0.append(slot) }
            }
            cpuSeconds[i] = threadCPUSeconds() - cpuStart
            faults[i] = threadMinorFaults() - faultStart
        }
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let samples = Double(classes * (rowsPerClass - real))
        let cpu = cpuSeconds.reduce(0, +)
        return "\(Int(samples / cpu)) per CPU-second per thread, \(Int(samples / seconds)) samples/s wall "
            + "(on CPU \(Int((100 * cpu / (Double(threads) * seconds)).rounded()))% of the wall), "
            + "\(faults.reduce(0, +) / classes) page faults per class"
    }
}

/// CPU time of the calling thread.
private func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Minor page faults of the calling thread so far.
private func threadMinorFaults() -> Int {
    var usage = rusage()
    // RUSAGE_THREAD (Linux), which Swift's Glibc module does not import (it needs _GNU_SOURCE).
    getrusage(__rusage_who_t(1), &usage)
    return usage.ru_minflt
}
