import Foundation
import TailForgeCluster
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining

/// `tailforge-bench job [--preset places-lt] [--dimension D] [--workers 1,2,3] [--threads T] [--max-iter N] [--tol X]
/// [--seed N] [--trainer coordinator|worker] [--tailforge PATH]`
///
/// A job with a `train:` section (balance, then train where the rows stay put) on 1, 2 and 3 local worker
/// processes against single-node `tailforge balance --layout compact` + `tailforge train` on the same input in the
/// same run: wall time of each stage, bytes moved, iterations, evaluations, final loss, stop reason, and whether
/// every model has the single-node model's SHA-256, and the seconds the trainer spent writing its per-iteration
/// checkpoints (part of train s). The load average is printed with every run. `--trainer worker` names the last
/// worker in `train.trainer`, so it drives L-BFGS instead of the coordinator.
enum JobBenchmarks {
    static func run(_ arguments: [String]) async throws {
        var preset = SyntheticPreset.placesLT
        var dimension: Int?
        var workerCounts = [1, 2, 3]
        var threads = ProcessInfo.processInfo.activeProcessorCount
        var maxIterations = 10
        var tolerance = 1e-5
        var seed: UInt64 = 1
        var trainerOnWorker = false
        var executable = LocalCluster.siblingExecutable()
        var it = arguments.makeIterator()
        while let flag = it.next() {
            guard let value = it.next() else { throw BenchmarkError.usage("\(flag) needs a value") }
            switch flag {
            case "--preset": preset = SyntheticPreset(rawValue: value) ?? preset
            case "--dimension": dimension = Int(value)
            case "--workers": workerCounts = value.split(separator: ",").compactMap { Int($0) }
            case "--threads": threads = Int(value) ?? threads
            case "--max-iter": maxIterations = Int(value) ?? maxIterations
            case "--tol": tolerance = Double(value) ?? tolerance
            case "--seed": seed = UInt64(value) ?? seed
            case "--trainer":
                guard ["coordinator", "worker"].contains(value) else { throw BenchmarkError.usage("--trainer takes coordinator or worker, not \(value)") }
                trainerOnWorker = value == "worker"
            case "--tailforge": executable = value
            default: throw BenchmarkError.usage("unknown option \(flag)")
            }
        }
        guard let executable else { throw BenchmarkError.usage("cannot find the tailforge executable; pass --tailforge PATH") }

        let work = NSTemporaryDirectory() + "tailforge-bench-job-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        func path(_ name: String) -> String { (work as NSString).appendingPathComponent(name) }

        var clock = Date()
        let (train, _) = try preset.write(to: path("data"), seed: seed, dimension: dimension, threads: threads)
        print(String(format: "job: preset %@, d = %d, input %.1f MiB, generated in %.1f s; %d cores; max_iterations %d, tolerance %g; %@",
                     preset.rawValue, preset.configuration(dimension: dimension).dimension, Double(ClusterBenchmarks.fileSize(train)) / 1_048_576,
                     Date().timeIntervalSince(clock), threads, maxIterations, tolerance, loadAverage()))

        // Single node: balance (compact) then train, as a user runs them; the model records the name balanced.h5.
        try FileManager.default.createDirectory(atPath: path("single"), withIntermediateDirectories: true)
        let trainFlags = ["--max-iter", "\(maxIterations)", "--tol", "\(tolerance)", "--threads", "\(threads)"]
        clock = Date()
        try runTool(executable, ["balance", train, "--output", path("single/balanced.h5"), "--seed", "\(seed)", "--threads", "\(threads)",
                                 "--layout", "compact"])
        let balanceSeconds = Date().timeIntervalSince(clock)
        clock = Date()
        try runTool(executable, ["train", path("single/balanced.h5"), "--output", path("single/model.h5")] + trainFlags)
        let trainSeconds = Date().timeIntervalSince(clock)
        let reference = try SHA256.hexDigest(ofFileAt: path("single/model.h5"))
        let model = try HDF5File.open(path: path("single/model.h5")).rootAttributes()
        print(String(format: "single-node balance --layout compact: %.1f s; train: %.1f s (load + %lld iterations, %lld evaluations), final loss %.6f, %@; model %@; %@",
                     balanceSeconds, trainSeconds, model["iterations"]?.intValue ?? -1, model["evaluations"]?.intValue ?? -1,
                     model["final_loss"]?.doubleValue ?? .nan, model["stop_reason"]?.stringValue ?? "?", String(reference.prefix(16)), loadAverage()))
        try? FileManager.default.removeItem(atPath: path("single/balanced.h5"))

        print("trainer: \(trainerOnWorker ? "the last worker (train.trainer)" : "the coordinator")")
        print("workers  wall s  vs single  κ s  recipe s  gather s  regenerate s  train s  checkpoint s  iterations  evaluations  final loss  stop  shard MiB  training MiB  per-evaluation MiB  same model  load")
        for count in workerCounts {
            let cluster = LocalCluster(executable: executable, directory: path("cluster-\(count)"), heartbeatMilliseconds: 500, livenessMilliseconds: 10_000)
            cluster.dataRoots = [work]
            cluster.coordinatorArguments = CoordinatorTraffic.coordinatorArguments
            defer { cluster.stop() }
            try await cluster.start(workers: count, threadsPerWorker: max(1, threads / count))
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 3_600)
            let output = path("model-\(count).h5")
            var settings = JobManifest.Train().settings
            settings.optimizer.maxIterations = maxIterations
            settings.optimizer.gradientTolerance = tolerance
            let manifest = JobManifest(name: "bench-job-\(count)", input: .init(path: train), output: output, overwrite: true,
                                       policy: BalanceSettings(seed: seed), sharding: .init(shards: 4 * count),
                                       train: .init(settings: settings, trainer: trainerOnWorker ? "local\(count - 1)" : nil))
            clock = Date()
            let job = try client.submit(manifest)
            let final = try client.watch(job: job) { _ in }
            let wall = Date().timeIntervalSince(clock)
            guard final.state == .committed else {
                print("\(count) workers: job \(final.state.rawValue): \(final.error ?? "")")
                continue
            }
            let resolved = try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: output))
            guard let training = resolved.training else { print("\(count) workers: no training record"); continue }
            // Shard traffic: shard files the coordinator fetched, as its metrics count them (none: a compact job's
            // rows stay on the workers), and κ both ways (4 bytes per real row, inside job messages).
            let traffic = try await CoordinatorTraffic.scrape(stateDirectory: cluster.stateDirectory)
            let realRows = Int64(preset.configuration(dimension: dimension).trainCounts.reduce(0, +))
            let shardBytes = traffic["received/shard"] + 2 * 4 * realRows
            let trainingBytes = training.networkBytes ?? 0
            let sha = try SHA256.hexDigest(ofFileAt: output)
            print(String(format: "%7d  %6.1f  %8.2fx  %4.1f  %8.1f  %8.1f  %12.1f  %7.1f  %12.2f  %10d  %11d  %10.6f  %@  %9.1f  %12.1f  %18.2f  %@  %@",
                         count, wall, (balanceSeconds + trainSeconds) / wall, resolved.stageSeconds["concentrations"] ?? 0,
                         resolved.stageSeconds["synthesis"] ?? 0, resolved.stageSeconds["gather"] ?? 0, training.openSeconds, training.trainSeconds, training.checkpointSeconds ?? 0,
                         training.iterations, training.evaluations, training.finalLoss, training.stopReason, Double(shardBytes) / 1_048_576,
                         Double(trainingBytes) / 1_048_576, Double(trainingBytes) / 1_048_576 / Double(max(1, training.evaluations)),
                         sha == reference ? "yes" : "NO (\(sha.prefix(16)))", loadAverage()))
            cluster.stop()
            try? FileManager.default.removeItem(atPath: output)
            try? FileManager.default.removeItem(atPath: cluster.directory)
        }
    }

    static func runTool(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchmarkError.usage("tailforge \(arguments[0]) failed (\(process.terminationStatus))") }
    }

    /// `load average 1/5/15 min` from /proc/loadavg.
    static func loadAverage() -> String {
        let fields = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "").split(separator: " ").prefix(3)
        return "load " + fields.joined(separator: " ")
    }
}
