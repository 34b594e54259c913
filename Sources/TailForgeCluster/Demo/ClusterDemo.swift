import Foundation
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining

/// `tailforge demo`: generates a long-tailed data set, balances it on a loopback cluster (a coordinator and
/// workers as separate processes), then on this machine trains the paper's recipe (softmax on the balanced data)
/// and the strongest simple alternatives on the unbalanced data — unweighted softmax, the same with the logit
/// adjustment, class weighting, the generative vMF mixture, and that mixture refined by EM over the test split's
/// embeddings (transductive: the rows to classify, never their labels) — and scores each on the test split with
/// many/medium/few-shot accuracy.
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

    /// The recipes' column headings, in the table's order.
    public static let unweighted = "unweighted", logitAdjusted = "logit adj.", classWeighted = "class weights",
                      mixture = "vMF mixture", vmfBalanced = "vMF-balanced", transductive = "transductive"

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

        let unbalanced = outputs[.none]!, balanced = outputs[.vmf]!
        // One calibrated fit gives two columns: its final fit is the plain unweighted model (CalibrationFitPlan), scored
        // raw and with the τ the calibration fit chose.
        say("training softmax on unbalanced.h5 with --calibrate (the unweighted and logit-adjusted columns)")
        let plain = try await TrainingRunner(inputs: [unbalanced], output: path("model-unbalanced.h5"), settings: TrainingSettings(),
                                             threads: trainingThreads, calibration: CalibrationSettings()).run()
        say(String(format: "  final fit %.2f s, calibration fit %.2f s", plain.trainSeconds, plain.calibrationSeconds))
        let scored = try EvaluationRunner(model: path("model-unbalanced.h5"), test: test, training: train).evaluations(calibrations: [false, true])

        say("training softmax on unbalanced.h5 with --class-weight balanced")
        let weighted = try await TrainingRunner(inputs: [unbalanced], output: path("model-class-weighted.h5"),
                                                settings: TrainingSettings(classWeighting: .balanced), threads: trainingThreads).run()
        say(String(format: "  fit %.2f s", weighted.trainSeconds))

        say("training the vMF mixture on unbalanced.h5 with --calibrate (cross-validation, then the final fit)")
        let mixture = try await VMFMixtureTrainingRunner(inputs: [unbalanced], output: path("model-vmf-mixture.h5"),
                                                         settings: VMFMixtureSelectionSettings(calibrate: true), threads: trainingThreads).run()
        say(String(format: "  cross-validation %.2f s, final fit %.2f s", mixture.foldSeconds, mixture.refitSeconds))

        // The mixture again, refined by EM over the test split's embeddings (train --transductive: its labels are not read,
        // each row is scored leave-one-out): the use of a model fitted when the batch it classifies is at hand. Its
        // cross-validation is the mixture column's, repeated.
        say("training the vMF mixture on unbalanced.h5 with --calibrate --transductive test.h5")
        let transductive = try await VMFMixtureTrainingRunner(inputs: [unbalanced], output: path("model-vmf-mixture-transductive.h5"),
                                                              settings: VMFMixtureSelectionSettings(calibrate: true), threads: trainingThreads,
                                                              unlabeled: [test], leaveOneOut: true).run()
        let emSeconds = transductive.semiSupervised?.seconds ?? 0
        say(String(format: "  cross-validation %.2f s, final fit %.2f s, EM %.2f s", transductive.foldSeconds, transductive.refitSeconds, emSeconds))

        say("training softmax on balanced.h5")
        let vmf = try await TrainingRunner(inputs: [balanced], output: path("model-balanced.h5"), settings: TrainingSettings(),
                                           threads: trainingThreads).run()
        say(String(format: "  fit %.2f s", vmf.trainSeconds))

        func evaluate(_ model: String) throws -> Evaluation { try EvaluationRunner(model: path(model), test: test, training: train).run() }
        let recipes = [
            Recipe(name: Self.unweighted, evaluation: scored[0], trainingRows: plain.rows, iterations: plain.report.iterations,
                   fitSeconds: plain.trainSeconds),
            Recipe(name: Self.logitAdjusted, evaluation: scored[1], trainingRows: plain.rows, iterations: plain.report.iterations,
                   fitSeconds: plain.trainSeconds + plain.calibrationSeconds),
            Recipe(name: Self.classWeighted, evaluation: try evaluate("model-class-weighted.h5"), trainingRows: weighted.rows,
                   iterations: weighted.report.iterations, fitSeconds: weighted.trainSeconds),
            Recipe(name: Self.mixture, evaluation: try evaluate("model-vmf-mixture.h5"), trainingRows: mixture.rows, iterations: nil,
                   fitSeconds: mixture.foldSeconds + mixture.refitSeconds),
            Recipe(name: Self.vmfBalanced, evaluation: try evaluate("model-balanced.h5"), trainingRows: vmf.rows,
                   iterations: vmf.report.iterations, fitSeconds: vmf.trainSeconds),
            Recipe(name: Self.transductive, evaluation: try evaluate("model-vmf-mixture-transductive.h5"), trainingRows: transductive.rows,
                   iterations: nil, fitSeconds: transductive.foldSeconds + transductive.refitSeconds + emSeconds),
        ]
        return Report(balancedSHA256: try SHA256.hexDigest(ofFileAt: balanced), balancedRows: vmf.rows, unbalancedRows: plain.rows,
                      jobSeconds: jobSeconds, recipes: recipes)
    }
}
