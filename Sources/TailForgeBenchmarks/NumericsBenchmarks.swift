// Suite "numerics": OpenBLAS sgemm, exact k-NN, the normal generator and the vMF sampler, with the
// figures the balancing engine's hot paths depend on. Options: `--quick` for smaller repetitions,
// `--part sgemm|nn|rng|vmf|engine` to run one part (e.g. under `perf stat`). Rates are given per wall-clock second and,
// because the machine is shared, per second of the measuring threads' own CPU time.
import COpenBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import TailForgeEngine
import TailForgeNumerics

/// The "numerics" suite.
enum NumericsBenchmarks {
    static func run(_ options: [String]) throws {
        let quick = options.contains("--quick")
        let part = options.firstIndex(of: "--part").map { options[$0 + 1] }
        func runs(_ name: String) -> Bool { part == nil || part == name }
        print("load average at start: \(loadAverage())")
        print("numerics benchmark (\(openblasConfig()), core \(BLAS.coreName); sgemm with OpenBLAS's own threads, the rest on the compute pool)")

        // MARK: sgemm

        var sgemmAtBlockShape: [Int: Double] = [:]
        for threads in [1, 2] where runs("sgemm") || runs("nn") {
            let block = sgemmGFLOPS(m: 512, n: 5000, k: 768, transposeB: true, repetitions: quick ? 3 : 8, threads: threads)
            sgemmAtBlockShape[threads] = block
            let square = sgemmGFLOPS(m: 2048, n: 2048, k: 2048, transposeB: false, repetitions: quick ? 2 : 4, threads: threads)
            print("sgemm  \(threads) thread(s): 512×768 · (5000×768)ᵀ \(format(block)) GFLOP/s;  2048³ \(format(square)) GFLOP/s")
        }

        // MARK: nearest neighbours

        let n = 5000, d = 768
        var points = Matrix(rows: n, columns: d)
        var rng = Philox4x32(seed: 1, stream: 0)
        points.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
        try RowNormalization.normalizeRows(&points)
        for threads in [1, 2] where runs("nn") {
            var best = Double.infinity
            for _ in 0..<(quick ? 2 : 4) {
                let seconds = measure { _ = NearestNeighbours.search(points, k: 10, blockRows: 512, threads: threads) }
                best = min(best, seconds)
            }
            let gflops = 2 * Double(n) * Double(n) * Double(d) / best / 1e9
            let fraction = gflops / sgemmAtBlockShape[threads]!
            print("NN     \(threads) thread(s): 5000×768, k = 10, blocks of 512: \(format(best * 1000)) ms, \(format(gflops)) GFLOP/s = \(format(100 * fraction))% of sgemm at the block shape")
        }
        // MARK: random numbers

        if runs("rng") {
            let count = quick ? 20_000_000 : 100_000_000
            var philox = Philox4x32(seed: 2, stream: 0)
            var sink: UInt64 = 0
            let philoxSeconds = measureCPU { for _ in 0..<count { sink ^= philox.next() } }
            print("Philox4x32-10: \(format(philoxSeconds / Double(count) * 1e9, digits: 2)) ns (CPU) per 64-bit output (checksum \(sink & 0xFF))")
            var generator = Xoshiro256PlusPlus(seed: 2, stream: 0)
            let xoshiroSeconds = measureCPU { for _ in 0..<count { sink ^= generator.next() } }
            let words = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 384)
            defer { words.deallocate() }
            let fillSeconds = measureCPU { for _ in 0..<(count / 384) { generator.fill(words); sink ^= words[383] } }
            print("xoshiro256++: next() \(format(xoshiroSeconds / Double(count) * 1e9, digits: 2)) ns (CPU), fill \(format(fillSeconds / Double(count / 384 * 384) * 1e9, digits: 2)) ns (CPU) per 64-bit output (checksum \(sink & 0xFF))")
            var lanes = Xoshiro256PlusPlusLanes(seed: 2, stream: 0)
            let lanesNextSeconds = measureCPU { for _ in 0..<count { sink ^= lanes.next() } }
            let lanesFillSeconds = measureCPU { for _ in 0..<(count / 384) { lanes.fill(words); sink ^= words[383] } }
            print("xoshiro256++ × 8 lanes (\(Xoshiro256PlusPlusLanes.instructionSet)): next() \(format(lanesNextSeconds / Double(count) * 1e9, digits: 2)) ns (CPU), fill \(format(lanesFillSeconds / Double(count / 384 * 384) * 1e9, digits: 2)) ns (CPU) per 64-bit output (checksum \(sink & 0xFF))")
            let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: 768)
            defer { floats.deallocate() }
            let rounds = quick ? 20_000 : 200_000
            let philoxNormalSeconds = measureCPU { for _ in 0..<rounds { StandardNormal.fill(floats, using: &philox) } }
            let normalSeconds = measureCPU { for _ in 0..<rounds { StandardNormal.fill(floats, using: &generator) } }
            let lanesNormalSeconds = measureCPU { for _ in 0..<rounds { StandardNormal.fill(floats, using: &lanes) } }
            print("StandardNormal.fill (Float): \(format(lanesNormalSeconds / Double(rounds * 768) * 1e9, digits: 2)) ns (CPU) per draw on xoshiro256++ × 8 lanes (the engine's stream), \(format(normalSeconds / Double(rounds * 768) * 1e9, digits: 2)) on scalar xoshiro256++, \(format(philoxNormalSeconds / Double(rounds * 768) * 1e9, digits: 2)) on Philox")
            // The same fill timed in short blocks: on this shared VM one long block's figure swings by tens of
            // percent from run to run, the best and the median of many short ones much less.
            var blocks: [Double] = []
            for _ in 0..<(quick ? 10 : 60) {
                blocks.append(measureCPU { for _ in 0..<2_000 { StandardNormal.fill(floats, using: &lanes) } } / Double(2_000 * 768) * 1e9)
            }
            blocks.sort()
            print("StandardNormal.fill (Float) on the lanes, \(blocks.count) blocks of 2,000 × 768 draws: best \(format(blocks[0], digits: 3)), median \(format(blocks[blocks.count / 2], digits: 3)) ns (CPU) per draw (\(StandardNormal.zigguratLayers)-layer ziggurat)")
            let doubles = quick ? 2_000_000 : 20_000_000
            var total = 0.0
            let doubleSeconds = measureCPU { for _ in 0..<doubles { total += StandardNormal.next(using: &generator) } }
            print("StandardNormal.next (Double): \(format(doubleSeconds / Double(doubles) * 1e9, digits: 2)) ns (CPU) per draw on xoshiro256++ (sum \(format(total)))")
        }

        // MARK: vMF sampler

        let sampler = VonMisesFisherSampler(dimension: d)
        let mean = Array(points.row(0))
        for kappa in [250.0, 1700, 38_000] where runs("vmf") {
            var proposals = 0
            var cosineRNG = Xoshiro256PlusPlusLanes(seed: 3, stream: 0)
            let draws = 100_000
            let cosineSeconds = measureCPU {
                for _ in 0..<draws { proposals += sampler.sampleCosineCountingProposals(kappa: kappa, using: &cosineRNG).proposals }
            }
            let acceptance = Double(draws) / Double(proposals)
            var rates: [String] = []
            for threads in [1, 2] {
                let perThread = quick ? 100_000 : 500_000
                nonisolated(unsafe) let cpuSeconds = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
                nonisolated(unsafe) let finished = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
                defer { cpuSeconds.deallocate(); finished.deallocate() }
                let begin = ContinuousClock.now
                let seconds = measure {
                    ComputePool.forEach(threads, width: threads) { thread in
                        // The engine's per-class stream type.
                        var local = Xoshiro256PlusPlusLanes(seed: 4, stream: UInt64(thread))
                        let out = UnsafeMutableBufferPointer<Float>.allocate(capacity: d)
                        defer { out.deallocate() }
                        let start = threadCPUSeconds()
                        // The envelope made once per κ, as the engine makes it once per centre.
                        let envelope = sampler.envelope(kappa: kappa)
                        mean.withUnsafeBufferPointer { m in
                            for _ in 0..<perThread { sampler.sample(mean: m, envelope: envelope, into: out, using: &local) }
                        }
                        cpuSeconds[thread] = threadCPUSeconds() - start
                        finished[thread] = elapsedSeconds(since: begin)
                    }
                }
                let perCPUSecond = Double(perThread) / (cpuSeconds.reduce(0, +) / Double(threads))
                // Where a wall rate falls short of threads × the per-CPU rate: the share of the wall the
                // measuring threads were on a CPU (the rest they waited for one: other processes), and the
                // last thread's finish against the first's (imbalance, or a thread started late).
                let onCPU = cpuSeconds.reduce(0, +) / (Double(threads) * seconds)
                let spread = (finished.max()! - finished.min()!) / seconds
                rates.append("\(threads) thread(s) \(Int(Double(perThread * threads) / seconds)) samples/s wall (\(Int(perCPUSecond)) per CPU-second per thread; on CPU \(format(100 * onCPU))% of the wall, finishes \(format(100 * spread))% apart)")
            }
            print("vMF d = 768, κ = \(Int(kappa)): acceptance \(format(acceptance, digits: 3)), cosine \(format(cosineSeconds / Double(draws) * 1e9)) ns (CPU); " + rates.joined(separator: ", "))
            print("    engine path, same κ: " + (try engineRate(points: points, kappa: kappa, classes: quick ? 20 : 100)))
        }

        // MARK: the engine's draws, variant by variant

        for kappa in [250.0, 1700, 38_000] where runs("engine") {
            print("vMF d = 768, κ = \(Int(kappa)), where the engine's draws spend their time:")
            try EngineDrawVariants.run(points: points, kappa: kappa, classes: quick ? 20 : 100)
        }
    }
}

/// The same draws as the engine makes them for `balance` and for regenerating a compact file: whole classes
/// through `BalanceEngine.synthesize` (the class's stream, centre choice, block storage and bookkeeping), each
/// with 5 real rows and 4,975 synthetic rows like Places-LT's tail classes, on 2 threads, blocks built in
/// recycled storage as `balance` streams them.
private func engineRate(points: Matrix, kappa: Double, classes: Int) throws -> String {
    let d = points.columns, real = 5
    let classRows = Matrix(rows: real, columns: d, storage: Array(points.storage[0..<(real * d)]))
    let settings = BalanceSettings(seed: 4)
    let plan = try BalancePlan(classSizes: [4980] + [Int](repeating: real, count: classes), settings: settings)
    let kappas = [Float](repeating: Float(kappa), count: real)
    nonisolated(unsafe) let cpuSeconds = UnsafeMutableBufferPointer<Double>.allocate(capacity: classes)
    defer { cpuSeconds.deallocate() }
    let buffers = ClassBlockBuffers()
    let seconds = measure {
        ComputePool.forEach(classes, width: 2) { i in
            let start = threadCPUSeconds()
            let block = BalanceEngine.synthesize(entry: plan.classes[1 + i], classRows: classRows, sourceRows: (0..<Int64(real)).map { $0 },
                                                 kappas: kappas, settings: settings, reusing: buffers.take())
            precondition(block.count == 4980)
            buffers.recycle(block)
            cpuSeconds[i] = threadCPUSeconds() - start
        }
    }
    let samples = Double(classes * (4980 - real))
    return "2 threads \(Int(samples / seconds)) samples/s wall (\(Int(samples / cpuSeconds.reduce(0, +))) per CPU-second per thread; "
        + "on CPU \(format(100 * cpuSeconds.reduce(0, +) / (2 * seconds)))% of the wall)"
}

private func sgemmGFLOPS(m: Int, n: Int, k: Int, transposeB: Bool, repetitions: Int, threads: Int) -> Double {
    var rng = Philox4x32(seed: 9, stream: UInt64(m))
    var a = [Float](repeating: 0, count: m * k), b = [Float](repeating: 0, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    a.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
    b.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
    var best = Double.infinity
    withOpenBLASThreads(threads) {
        for _ in 0...repetitions {  // the first run warms up and is included only if fastest
            let seconds = measure {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(transposeB ? k : n), 0, &c, Int32(n))
            }
            best = min(best, seconds)
        }
    }
    return 2 * Double(m) * Double(n) * Double(k) / best / 1e9
}

private func measure(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    return elapsedSeconds(since: start)
}

private func elapsedSeconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = start.duration(to: .now)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// CPU time of the calling thread, so single-thread figures are not diluted by other processes.
private func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

private func measureCPU(_ body: () -> Void) -> Double {
    let start = threadCPUSeconds()
    body()
    return threadCPUSeconds() - start
}

private func format(_ x: Double, digits: Int = 1) -> String {
    let scale = (0..<digits).reduce(1.0) { acc, _ in acc * 10 }
    let rounded = (x * scale).rounded() / scale
    return "\(rounded)"
}

private func loadAverage() -> String {
    var loads = [Double](repeating: 0, count: 3)
    guard getloadavg(&loads, 3) == 3 else { return "unknown" }
    return loads.map { format($0, digits: 2) }.joined(separator: " ")
}

private func openblasConfig() -> String {
    guard let config = openblas_get_config() else { return "unknown" }
    return String(cString: config)
}
