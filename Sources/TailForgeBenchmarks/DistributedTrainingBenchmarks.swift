import Foundation
import Logging
import TailForgeCluster
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining

/// Suite "distributed": seconds per loss+gradient evaluation with local threads against 1, 2 and 4 loopback
/// worker processes over the same shard files, and the communication overhead (broadcast + reduce) measured
/// separately with the same parameter shape on shards of one row per class (so compute is negligible).
///
///     tailforge-bench distributed [--rows 100000] [--dimension 768] [--classes 365] [--shards 4]
///                                 [--passes 3] [--workers 1,2,4] [--threads 2]
///
/// The default is the balanced Places-LT *shape* (d = 768, 365 classes: 1.12 MB of float32 weights out,
/// 4.49 MB of exact fixed-point gradient back per shard) on a subset of its 1.82 M rows; compute scales with
/// rows, communication does not. Needs the `tailforge` executable beside `tailforge-bench`.
enum DistributedTrainingBenchmarks {
    static func run(_ arguments: [String]) async throws {
        var options = [String: String]()
        var i = 0
        while i < arguments.count {
            guard arguments[i].hasPrefix("--"), i + 1 < arguments.count else { throw BenchmarkError.usage("options are --name value") }
            options[String(arguments[i].dropFirst(2))] = arguments[i + 1]
            i += 2
        }
        func int(_ name: String, _ fallback: Int) throws -> Int {
            guard let text = options[name] else { return fallback }
            guard let v = Int(text), v > 0 else { throw BenchmarkError.usage("--\(name) must be a positive integer") }
            return v
        }
        let rows = try int("rows", 100_000), dimension = try int("dimension", 768), classes = try int("classes", 365)
        let shardCount = try int("shards", 4), passes = try int("passes", 3)
        let threads = try int("threads", ProcessInfo.processInfo.activeProcessorCount)
        let workerCounts = (options["workers"] ?? "1,2,4").split(separator: ",").compactMap { Int($0) }
        guard let executable = LocalCluster.siblingExecutable() else {
            throw BenchmarkError.usage("build the tailforge executable next to tailforge-bench (swift build --product tailforge)")
        }
        let directory = NSTemporaryDirectory() + "tailforge-bench-distributed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        var clock = Stopwatch()
        let means = SyntheticClasses(classes: classes, dimension: dimension, seed: 2026)
        let (data, labels) = means.sample(rows: rows, spread: 8, seed: 1)
        var paths: [String] = [], nullPaths: [String] = []
        for s in 0 ..< shardCount {
            let range = (s * rows / shardCount) ..< ((s + 1) * rows / shardCount)
            let path = "\(directory)/shard-\(s).h5"
            try TrainingBenchmarks.writeLabeled(path, Matrix(rows: range.count, columns: dimension,
                                                             storage: Array(data.storage[range.lowerBound * dimension ..< range.upperBound * dimension])),
                                                Array(labels[range]))
            paths.append(path)
            // One row per class: the same parameter and gradient sizes, next to no compute.
            let nullPath = "\(directory)/null-\(s).h5"
            try TrainingBenchmarks.writeLabeled(nullPath, Matrix(rows: classes, columns: dimension,
                                                                 storage: Array(data.storage[0 ..< classes * dimension])),
                                                Array(labels[0 ..< classes]))
            nullPaths.append(nullPath)
        }
        print(String(format: "distributed benchmark: %d rows × %d, %d classes in %d shard files (written in %.1f s); %d passes each",
                     rows, dimension, classes, shardCount, clock.lap(), passes))
        let weightBytes = classes * (dimension + 1) * 4, gradientBytes = classes * (dimension + 1) * 16 + 41
        print(String(format: "per evaluation: weights %.2f MB to each worker, gradient %.2f MB back per shard",
                     Double(weightBytes) / 1e6, Double(gradientBytes) / 1e6))

        var parameters = ModelParameters.zeros(classCount: classes, dimension: dimension)
        var rng = Xoshiro256PlusPlus(seed: 3, stream: 0)
        for j in parameters.values.indices { parameters.values[j] = Float(StandardNormal.next(using: &rng) * 0.05) }
        let at = parameters

        codecCosts(parameters: at)

        let shards = try paths.map { try TrainingShard.load(path: $0) }
        let local = try LocalGradientSource(shards: shards, classCount: classes, threads: threads)
        var reference: LossAndGradient?
        var localTimes: [Double] = []
        for _ in 0 ..< passes {
            var watch = Stopwatch()
            reference = try await local.evaluate(at)
            localTimes.append(watch.lap())
        }
        let localMedian = median(localTimes)
        print(String(format: "local threads (%d): %.3f s per evaluation (median of %d)", threads, localMedian, passes))

        let logger = { var l = Logger(label: "bench.trainer"); l.logLevel = .warning; return l }()
        let specs = paths.map { TrainingShardSpec(path: $0) }, nullSpecs = nullPaths.map { TrainingShardSpec(path: $0) }
        for workers in workerCounts {
            let cluster = LocalCluster(executable: executable, directory: "\(directory)/cluster-\(workers)",
                                       heartbeatMilliseconds: 200, livenessMilliseconds: 30_000)
            cluster.dataRoots = [directory]
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let perWorker = max(1, threads / workers)
            let endpoint = cluster.endpoint
            for _ in 0 ..< workers { try cluster.startWorker(threads: perWorker) }
            var watch = Stopwatch()
            let source = try await RemoteGradientSource.open(coordinator: endpoint, shards: specs, classWeighting: .none, timeoutSeconds: 600, logger: logger)
            let openSeconds = watch.lap()
            var identical = true
            for _ in 0 ..< passes {
                let sums = try await source.evaluate(at)
                identical = identical && sums == reference
            }
            let timings = source.evaluationTimings
            source.close()
            let wall = median(timings.map(\.wallSeconds))
            let compute = median(timings.map { $0.shardSeconds.reduce(0, +) })
            let trainerSide = median(timings.map(\.trainerSeconds))

            let nullSource = try await RemoteGradientSource.open(coordinator: endpoint, shards: nullSpecs, classWeighting: .none, timeoutSeconds: 600, logger: logger)
            for _ in 0 ..< max(passes, 5) { _ = try await nullSource.evaluate(at) }
            let nullTimings = nullSource.evaluationTimings
            nullSource.close()
            let communication = median(nullTimings.map(\.wallSeconds))
            let nullCompute = median(nullTimings.map { $0.shardSeconds.max() ?? 0 })
            print(String(format: "%d worker process(es) × %d thread(s): %.3f s per evaluation (median of %d; %.2f× local), "
                         + "shard compute %.3f s summed over shards, trainer-side encode/decode/reduce %.3f s; "
                         + "session open %.2f s; bits identical to local: %@",
                         workers, perWorker, wall, passes, localMedian / wall, compute, trainerSide, openSeconds,
                         identical ? "yes" : "NO"))
            print(String(format: "  communication (same shapes, %d one-row-per-class shards): %.4f s per evaluation "
                         + "(of which worker compute ≤ %.4f s) = broadcast %.2f MB + reduce %.2f MB over loopback",
                         shardCount, communication, nullCompute, Double(weightBytes * workers) / 1e6,
                         Double(gradientBytes * shardCount) / 1e6))
        }
        print("peak resident memory (VmHWM) of the trainer process: \(peakResidentMemory())")
    }

    /// CPU time of each message step of one evaluation, without sockets: what every hop costs whatever the network.
    static func codecCosts(parameters: ModelParameters) {
        let c = parameters.classCount, d = parameters.dimension
        var rng = Xoshiro256PlusPlus(seed: 9, stream: 0)
        let sums = LossAndGradient(classCount: c, dimension: d, rows: 1000, isFinite: true, fixedPointLoss: 1 << 40,
                               fixedPointGradient: (0 ..< c * (d + 1)).map { _ in Int128(Int64(bitPattern: rng.next()) >> 8) })
        func time(_ body: () -> Void) -> Double {
            var best = Double.infinity
            for _ in 0 ..< 5 { var watch = Stopwatch(); body(); best = min(best, watch.lap()) }
            return best
        }
        var weightFrame: [UInt8] = [], gradientFrame: [UInt8] = [], frames: [[UInt8]] = []
        let encodeWeights = time { weightFrame = WireMessage.float32Payload(parameters.values) }
        let decodeWeights = time { _ = WireMessage.float32Values(weightFrame) }
        let serialize = time { gradientFrame = sums.serialized() }
        let deserialize = time { _ = LossAndGradient(serialized: gradientFrame) }
        let crc = time { _ = CRC32C.checksum(gradientFrame) }
        let reply = WireMessage(GradientReply(session: "s", iteration: 0, shard: 0, lossSum: 0, rows: 1000), payloads: [gradientFrame])
        let envelope = time { frames = reply.encode() }
        let validate = time { _ = try? WireMessage.decode(frames) }
        print(String(format: "message costs (CPU, best of 5): weights float32 encode %.1f ms / decode %.1f ms; "
                     + "gradient serialize %.1f ms / deserialize %.1f ms; CRC-32C of one gradient frame %.1f ms; "
                     + "envelope encode %.1f ms / validate %.1f ms (the coordinator validates each relayed reply, the trainer validates and deserialises it)",
                     encodeWeights * 1e3, decodeWeights * 1e3, serialize * 1e3, deserialize * 1e3, crc * 1e3,
                     envelope * 1e3, validate * 1e3))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
