import Foundation
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining

/// `tailforge demo`: generates a long-tailed data set, balances it on a loopback cluster (a coordinator and
/// workers as separate processes), trains a softmax classifier on the balanced and on the unbalanced data,
/// and evaluates both on the balanced test split with many/medium/few-shot accuracy.
public struct ClusterDemo: Sendable {
    public var executable: String
    public var outputDirectory: String
    public var preset: SyntheticPreset
    public var dimension: Int?
    public var workers: Int
    public var threadsPerWorker: Int
    public var trainingThreads: Int
    public var seed: UInt64

    public init(executable: String, outputDirectory: String, preset: SyntheticPreset = .cifar100LT, dimension: Int? = nil,
                workers: Int = 2, threadsPerWorker: Int = 1, trainingThreads: Int = ProcessInfo.processInfo.activeProcessorCount,
                seed: UInt64 = 1) {
        self.executable = executable; self.outputDirectory = outputDirectory; self.preset = preset; self.dimension = dimension
        self.workers = workers; self.threadsPerWorker = threadsPerWorker; self.trainingThreads = trainingThreads; self.seed = seed
    }

    /// What the demo measured.
    public struct Report: Sendable {
        public var balancedSHA256: String
        public var balancedRows: Int
        public var unbalancedRows: Int
        public var jobSeconds: Double
        public var balanced: Evaluation
        public var unbalanced: Evaluation
        public var balancedIterations: Int
        public var unbalancedIterations: Int

        /// The comparison table the demo prints.
        public func render() -> String {
            func percent(_ v: Double?) -> String { v.map { String(format: "%6.2f %%", $0 * 100) } ?? "     –  " }
            func group(_ e: Evaluation, _ g: Evaluation.ShotGroup) -> Double? { e.groups?.first { $0.group == g }?.accuracy }
            var lines = [
                "balanced output  \(balancedRows) rows, SHA-256 \(balancedSHA256)",
                String(format: "cluster jobs     %.1f s (balanced + unbalanced)", jobSeconds),
                "",
                "test top-1          unbalanced   vMF-balanced",
                "overall             \(percent(unbalanced.top1Accuracy))     \(percent(balanced.top1Accuracy))",
                "mean per class      \(percent(unbalanced.meanClassAccuracy))     \(percent(balanced.meanClassAccuracy))",
            ]
            for g in Evaluation.ShotGroup.allCases {
                lines.append("\(g.rawValue)-shot".padding(toLength: 20, withPad: " ", startingAt: 0)
                             + "\(percent(group(unbalanced, g)))     \(percent(group(balanced, g)))")
            }
            lines.append("training rows       \(String(format: "%8d", unbalancedRows))     \(String(format: "%8d", balancedRows))")
            lines.append("L-BFGS iterations   \(String(format: "%8d", unbalancedIterations))     \(String(format: "%8d", balancedIterations))")
            return lines.joined(separator: "\n")
        }
    }

    /// The demo job: what `jobs/demo.yaml` describes, pointed at the generated data.
    public func manifest(input: String, output: String, sampler: SamplerKind) -> JobManifest {
        // The demo's outputs are its own: a second run replaces them.
        JobManifest(name: "demo-\(sampler.rawValue)", input: .init(path: input), output: output, overwrite: true,
                    policy: BalanceSettings(target: .max, kappa: .local, sampler: sampler, seed: seed),
                    sharding: .init(shards: 8, maxAttempts: 3, shardTimeoutSeconds: 600))
    }

    /// Runs the demo; `say` receives progress lines (the command puts them on stderr).
    public func run(say: @escaping @Sendable (String) -> Void) async throws -> Report {
        let out = URL(fileURLWithPath: outputDirectory).standardizedFileURL.path
        func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        say("generating the \(preset.rawValue) data set in \(path("data"))")
        let (train, test) = try preset.write(to: path("data"), seed: seed, dimension: dimension, threads: trainingThreads)

        let clusterDirectory = path("cluster")
        try? FileManager.default.removeItem(atPath: clusterDirectory)
        let cluster = LocalCluster(executable: executable, directory: clusterDirectory)
        cluster.secure = true  // CURVE with generated keys, as a real cluster runs
        cluster.dataRoots = [out]  // the demo's data and outputs, nothing else
        defer { cluster.stop() }
        try await cluster.start(workers: workers, threadsPerWorker: threadsPerWorker)
        say("coordinator on \(cluster.endpoint) with \(workers) workers, CURVE keys in \(cluster.keyDirectory) (logs in \(clusterDirectory))")

        let started = Date()
        let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 60, security: try cluster.clientSecurity)
        var outputs: [SamplerKind: String] = [:]
        for sampler in [SamplerKind.vmf, .none] {
            let manifest = manifest(input: train, output: path(sampler == .none ? "unbalanced.h5" : "balanced.h5"), sampler: sampler)
            let job = try client.submit(manifest)
            var last = ""
            let final = try client.watch(job: job) { status in
                let line = "\(status.state.rawValue) \(status.stage?.rawValue ?? "planning") \(status.shardsDone)"
                guard line != last else { return }
                last = line
                say("  \(manifest.name ?? job): \(status.state.rawValue) \(status.stage?.rawValue ?? "planning") shards \(status.shardsDone)/\(status.shardCount) rows \(status.rowsWritten)/\(status.totalRows)")
            }
            guard final.state == .committed else {
                throw LocalCluster.StartError(description: "demo job \(job) \(final.state.rawValue): \(final.error ?? "see \(cluster.logPath("coordinator"))")")
            }
            outputs[sampler] = manifest.output
        }
        let jobSeconds = Date().timeIntervalSince(started)
        cluster.stop()

        var evaluations: [SamplerKind: (Evaluation, Int, Int)] = [:]
        for sampler in [SamplerKind.none, .vmf] {
            let data = outputs[sampler]!
            let model = path(sampler == .none ? "model-unbalanced.h5" : "model-balanced.h5")
            say("training on \((data as NSString).lastPathComponent)")
            let summary = try await TrainingRunner(inputs: [data], output: model, settings: TrainingSettings(), threads: trainingThreads).run()
            let evaluation = try EvaluationRunner(model: model, test: test, training: train).run()
            evaluations[sampler] = (evaluation, summary.report.iterations, summary.rows)
        }
        return Report(balancedSHA256: try SHA256.hexDigest(ofFileAt: outputs[.vmf]!), balancedRows: evaluations[.vmf]!.2,
                      unbalancedRows: evaluations[.none]!.2, jobSeconds: jobSeconds,
                      balanced: evaluations[.vmf]!.0, unbalanced: evaluations[.none]!.0,
                      balancedIterations: evaluations[.vmf]!.1, unbalancedIterations: evaluations[.none]!.1)
    }
}
