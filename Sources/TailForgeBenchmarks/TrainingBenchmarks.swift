import COpenBLAS
import Dispatch
import Foundation
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining

/// Suite "training": speed of one loss+gradient pass against raw sgemm in the same run, then a full L-BFGS
/// fit (iterations, wall time, accuracy) and the peak memory.
///
///     tailforge-bench training [--rows 50000] [--dimension 768] [--classes 100] [--test-rows 10000]
///                              [--threads N] [--block-rows 1024] [--passes 5] [--l2 1e-4] [--tol 1e-5]
///                              [--max-iter 500] [--spread 8] [--raw-repeats 3] [--no-fit]
///                              [--write-data DIR] | [--train TRAIN.h5 --test TEST.h5]
///
/// The data are synthetic unit-norm rows around random class means (the balanced CIFAR-100-LT shape by
/// default: 50,000 × 768, 100 classes), generated in memory with a fixed seed; `--write-data` also saves them
/// as DIR/train.h5 and DIR/test.h5 (for `tailforge train` and Scripts/sklearn-baseline.py). With `--train`
/// and `--test` the suite runs on those files instead (e.g. the output of `tailforge balance`).
enum TrainingBenchmarks {
    static func run(_ arguments: [String]) async throws {
        var options = [String: String]()
        var flags = Set<String>()
        var i = 0
        while i < arguments.count {
            let key = arguments[i]
            guard key.hasPrefix("--") else { throw BenchmarkError.usage("unexpected argument \(key)") }
            if key == "--no-fit" { flags.insert(key); i += 1; continue }
            guard i + 1 < arguments.count else { throw BenchmarkError.usage("\(key) needs a value") }
            options[String(key.dropFirst(2))] = arguments[i + 1]
            i += 2
        }
        func int(_ name: String, _ fallback: Int) throws -> Int {
            guard let text = options[name] else { return fallback }
            guard let v = Int(text), v > 0 else { throw BenchmarkError.usage("--\(name) must be a positive integer") }
            return v
        }
        func double(_ name: String, _ fallback: Double) throws -> Double {
            guard let text = options[name] else { return fallback }
            guard let v = Double(text), v >= 0 else { throw BenchmarkError.usage("--\(name) must be a non-negative number") }
            return v
        }
        var rows = try int("rows", 50_000), dimension = try int("dimension", 768), classes = try int("classes", 100)
        let testRows = try int("test-rows", 10_000), passes = try int("passes", 5)
        let threads = try int("threads", ProcessInfo.processInfo.activeProcessorCount)
        let blockRows = try int("block-rows", 1024)
        let spread = try double("spread", 8.0)
        var settings = TrainingSettings(l2: try double("l2", 1e-4))
        settings.optimizer.gradientTolerance = try double("tol", 1e-5)
        settings.optimizer.maxIterations = try int("max-iter", 500)

        var clock = Stopwatch()
        let train: Matrix, trainLabels: [Int32], test: Matrix, testLabels: [Int32]
        if let trainPath = options["train"] {
            guard let testPath = options["test"] else { throw BenchmarkError.usage("--train needs --test") }
            let shard = try TrainingShard.load(path: trainPath), testShard = try TrainingShard.load(path: testPath)
            (train, trainLabels, test, testLabels) = (shard.embeddings, shard.labels, testShard.embeddings, testShard.labels)
            (rows, dimension) = (train.rows, train.columns)
            classes = Int(max(trainLabels.max() ?? 0, testLabels.max() ?? 0)) + 1
            print("loaded \(trainPath) and \(testPath) in " + String(format: "%.2f s", clock.lap()))
        } else {
            let means = SyntheticClasses(classes: classes, dimension: dimension, seed: 2026)
            (train, trainLabels) = means.sample(rows: rows, spread: spread, seed: 1)
            (test, testLabels) = means.sample(rows: testRows, spread: spread, seed: 2)
            print(String(format: "generated data in %.2f s (spread %.2f)", clock.lap(), spread))
            if let directory = options["write-data"] {
                try writeLabeled(directory + "/train.h5", train, trainLabels)
                try writeLabeled(directory + "/test.h5", test, testLabels)
                print("wrote \(directory)/train.h5 and \(directory)/test.h5")
            }
        }
        print("training benchmark: \(rows) × \(dimension), \(classes) classes, \(threads) threads, block \(blockRows) rows")

        let flops = 4.0 * Double(rows) * Double(dimension) * Double(classes)
        let (raw, rawCPU) = rawSGEMM(train, classes: classes, threads: threads, repeats: try int("raw-repeats", 3))
        print(String(format: "raw sgemm (OpenBLAS, %d threads, the pass's two GEMM shapes over all rows): %.3f s, %.1f GFLOP/s; %.3f CPU-s",
                     threads, raw, flops / raw / 1e9, rawCPU))
        let square = squareSGEMM(size: 2048, threads: threads)
        print(String(format: "raw sgemm 2048³ (OpenBLAS, %d threads): %.1f GFLOP/s", threads, square))

        let shard = try TrainingShard(name: "synthetic", embeddings: train, labels: trainLabels)
        let source = try LocalGradientSource(shards: [shard], classCount: classes, threads: threads, blockRows: blockRows)
        var parameters = ModelParameters.zeros(classCount: classes, dimension: dimension)
        var rng = Xoshiro256PlusPlus(seed: 3, stream: 0)
        for j in parameters.values.indices { parameters.values[j] = Float(StandardNormal.next(using: &rng) * 0.05) }
        var times = [Double]()
        var cpuTimes = [Double]()
        let start = parameters
        for _ in 0 ..< passes {
            var watch = Stopwatch()
            let cpu = processCPUSeconds()
            _ = try await source.evaluate(start)
            times.append(watch.lap())
            cpuTimes.append(processCPUSeconds() - cpu)
        }
        cpuTimes.sort()
        times.sort()
        let median = times[times.count / 2]
        print(String(format: "loss+gradient pass: median %.3f s (min %.3f, max %.3f over %d), %.1f GFLOP/s = %.0f%% of raw sgemm",
                     median, times.first!, times.last!, passes, flops / median / 1e9, 100 * raw / median))
        // CPU seconds are less disturbed than wall time when other processes share the cores.
        print(String(format: "loss+gradient pass CPU time: median %.3f CPU-s (raw sgemm %.3f CPU-s: %.0f%%)",
                     cpuTimes[cpuTimes.count / 2], rawCPU, 100 * rawCPU / cpuTimes[cpuTimes.count / 2]))

        if !flags.contains("--no-fit") {
            print("fit: l2 \(settings.l2) (scikit-learn C = \(SoftmaxObjective.scikitLearnC(l2: settings.l2, rows: rows))), tol \(settings.optimizer.gradientTolerance), max-iter \(settings.optimizer.maxIterations)")
            let fitSettings = settings
            let result = try await SoftmaxTrainer.train(source: source, settings: fitSettings)
            let r = result.report
            print("fit: \(r.reason) after " + String(format: "%d iterations, %d evaluations, %.2f s (%.3f s/evaluation); loss %.6f, ‖g‖/‖g₀‖ %.2e",
                         r.iterations, r.evaluations, r.seconds, r.seconds / Double(r.evaluations),
                         r.finalLoss, r.gradientNorm / r.initialGradientNorm))
            let trainAccuracy = try accuracy(result.model.predict(train), trainLabels)
            let testAccuracy = try accuracy(result.model.predict(test), testLabels)
            print(String(format: "accuracy: train %.2f%%, test %.2f%%", 100 * trainAccuracy, 100 * testAccuracy))
        }
        print("peak resident memory (VmHWM): \(peakResidentMemory())")
    }

    /// Wall and CPU seconds for the two GEMM shapes of one pass (X·Wᵀ and Gᵀ·X over all rows), OpenBLAS's
    /// own threads, best of three.
    static func rawSGEMM(_ x: Matrix, classes c: Int, threads: Int, repeats: Int) -> (Double, Double) {
        let n = x.rows, d = x.columns
        let w = [Float](repeating: 0.01, count: c * d)
        var z = [Float](repeating: 0, count: n * c)
        var g = [Float](repeating: 0, count: c * d)
        var best = Double.infinity, bestCPU = Double.infinity
        withOpenBLASThreads(threads) { for _ in 0 ..< repeats {
            var watch = Stopwatch()
            let cpu = processCPUSeconds()
            x.storage.withUnsafeBufferPointer { x in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(c), Int32(d), 1, x.baseAddress!, Int32(d),
                            w, Int32(d), 0, &z, Int32(c))
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(c), Int32(d), Int32(n), 1, z, Int32(c),
                            x.baseAddress!, Int32(d), 0, &g, Int32(d))
            }
            best = min(best, watch.lap())
            bestCPU = min(bestCPU, processCPUSeconds() - cpu)
        } }
        return (best, bestCPU)
    }

    /// GFLOP/s of a square sgemm, OpenBLAS's own threads, best of three.
    static func squareSGEMM(size n: Int, threads: Int) -> Double {
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        withOpenBLASThreads(threads) {
            for _ in 0 ..< 3 {
                var watch = Stopwatch()
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
                best = min(best, watch.lap())
            }
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }

    static func writeLabeled(_ path: String, _ m: Matrix, _ labels: [Int32]) throws {
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeDataset("embeddings", values: m.storage, shape: [m.rows, m.columns], chunkRows: 4096)
        try writer.writeDataset("labels", values: labels, shape: [labels.count])
        try writer.commit()
    }

    static func accuracy(_ predicted: [Int32], _ labels: [Int32]) -> Double {
        Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }
}

/// Random class means on the unit sphere; samples are the mean plus isotropic noise, renormalised.
struct SyntheticClasses {
    let classes: Int
    let dimension: Int
    let means: [Double]

    init(classes: Int, dimension: Int, seed: UInt64) {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 0)
        var means = [Double]()
        for _ in 0 ..< classes {
            let v = (0 ..< dimension).map { _ in StandardNormal.next(using: &rng) }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            means += v.map { $0 / n }
        }
        self.classes = classes
        self.dimension = dimension
        self.means = means
    }

    /// Rows labelled round-robin; per-coordinate noise `spread/√d`, so `spread` is the noise-to-mean norm ratio.
    func sample(rows: Int, spread: Double, seed: UInt64) -> (Matrix, [Int32]) {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 0)
        var storage = [Float](repeating: 0, count: rows * dimension)
        var labels = [Int32](repeating: 0, count: rows)
        let sigma = spread / Double(dimension).squareRoot()
        var v = [Double](repeating: 0, count: dimension)
        for i in 0 ..< rows {
            let c = i % classes
            labels[i] = Int32(c)
            var norm = 0.0
            for j in 0 ..< dimension {
                v[j] = means[c * dimension + j] + sigma * StandardNormal.next(using: &rng)
                norm += v[j] * v[j]
            }
            norm = norm.squareRoot()
            for j in 0 ..< dimension { storage[i * dimension + j] = Float(v[j] / norm) }
        }
        return (Matrix(rows: rows, columns: dimension, storage: storage), labels)
    }
}


struct Stopwatch {
    private var start = DispatchTime.now().uptimeNanoseconds
    /// Seconds since the last lap (or creation).
    mutating func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { start = now }
        return Double(now - start) * 1e-9
    }
}

enum BenchmarkError: Error, CustomStringConvertible {
    case usage(String)
    var description: String {
        switch self { case .usage(let why): "usage: \(why)" }
    }
}

/// Runs `body` with OpenBLAS on its own `threads` threads, then back to one: only benchmarks do this, to
/// compare OpenBLAS's threading with the compute pool's (the library keeps BLAS on one thread throughout).
func withOpenBLASThreads(_ threads: Int, _ body: () -> Void) {
    openblas_set_num_threads(Int32(threads))
    defer { BLAS.useOneThread(); openblas_set_num_threads(1) }
    body()
}

/// User + system CPU seconds of the whole process so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
}

/// The process's peak resident set size from /proc/self/status (Linux), e.g. "1234567 kB".
func peakResidentMemory() -> String {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return "unknown" }
    let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    return String(format: "%.2f GiB", kb / 1_048_576)
}
