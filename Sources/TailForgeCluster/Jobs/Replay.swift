import Foundation
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining
#if canImport(Glibc)
import Glibc
#endif

/// Reruns a committed job from its resolved manifest (`OUT.manifest.json`) and checks the new output is
/// bit-identical to the recorded one — on a cluster or on this machine, since the engine draws per
/// (seed, class) and the bytes cannot depend on the number of workers.
///
/// Everything a rerun relies on is checked before any work: the manifest's seal (an edited `shards[]` or
/// `toolVersion` is refused), given the coordinator's public signing key its signature (an edited and resealed
/// manifest is refused), the tool version, every setting's range, and — for a local rerun — the input's
/// SHA-256. A failed or differing rerun leaves no output behind unless asked to keep it.
public enum Replay {
    /// Where the rerun happens.
    public enum Mode: Sendable {
        /// Single-node `BalanceRunner` with this many threads.
        case local(threads: Int)
        /// A coordinator at this endpoint; `timeoutSeconds` is how long a coordinator restart is ridden out.
        case coordinator(String, timeoutSeconds: Double = 120, security: SocketSecurity = .plaintext)
    }

    /// What a rerun is doing, for a progress bar.
    public enum Progress: Sendable {
        /// Checking the input's SHA-256 before recomputing.
        case verifyingInput(path: String)
        /// A local rerun's stage.
        case stage(BalanceStage, done: Int, total: Int)
        /// A cluster rerun was accepted as this job (it keeps running if the client goes away).
        case submitted(job: String, coordinator: String)
        /// A cluster rerun's job status.
        case job(JobStatus)
        /// A local rerun of a job that trains: L-BFGS iteration `iteration` of at most `of`.
        case training(iteration: Int, of: Int)
    }

    /// The recorded and the new digests: of the file, and of each dataset's content when the job recorded them.
    public struct Report: Sendable, Equatable {
        public var job: String
        public var output: String
        public var expectedSHA256: String
        public var actualSHA256: String
        /// The recorded content digests (nil for a manifest written before they existed: only the file is compared).
        public var expectedContentSHA256: [String: String]?
        public var actualContentSHA256: [String: String]?
        /// Whether the rerun's output was kept (always when it matches; on a mismatch only with `keepMismatch`).
        public var outputKept: Bool
        /// The fingerprint of the coordinator signing key the manifest's signature was verified with; nil when no
        /// key was given, so only the seal (which anyone can recompute) was checked.
        public var signatureVerifiedBy: String?
        /// False when the job published a virtual file (`publish: virtual`): its bytes name the job's shard
        /// files, so no rerun writes the same file; its rows are compared by their content digests instead.
        public var fileCompared = true
        /// For a job that trains whose replayed model differs: the recorded and replayed OpenBLAS kernel families,
        /// when they differ or the recorded model names none (nil otherwise: the kernel is not the explanation).
        public var kernelMismatch: BLASKernelMismatch?
        public var fileMatches: Bool { expectedSHA256 == actualSHA256 }
        public var contentMatches: Bool { expectedContentSHA256 == nil || expectedContentSHA256 == actualContentSHA256 }
        public var matches: Bool { (fileMatches || !fileCompared) && contentMatches }
        /// The datasets whose content digest differs, in file order.
        public var differingDatasets: [String] {
            guard let expected = expectedContentSHA256 else { return [] }
            return expected.keys.sorted().filter { expected[$0] != actualContentSHA256?[$0] }
        }
    }

    /// Why a replay could not run to a comparison.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The replay's default output beside the original: `OUT.replay.h5` for `OUT.h5`.
    public static func defaultOutput(for original: String) -> String {
        ((original as NSString).deletingPathExtension) + ".replay.h5"
    }

    /// Reads and checks the resolved manifest at `path` without running anything; with `signingKey` (the
    /// coordinator's `NAME.sign.pub`) its signature too.
    public static func check(manifestPath path: String, toolVersion: String = ToolVersion.current,
                             signingKey: SigningPublicKey? = nil) throws -> ResolvedManifest {
        let resolved: ResolvedManifest
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "\(path) does not exist; pass the OUT.manifest.json a coordinator wrote beside a committed output")
        }
        do { resolved = try ResolvedManifest.read(from: path) } catch {
            throw Failure(description: ManifestError(source: path, decoding: error).description
                          + " It must be the resolved manifest (OUT.manifest.json) a coordinator wrote beside a committed output.")
        }
        do { try resolved.verify(source: path, toolVersion: toolVersion, signingKey: signingKey) } catch {
            throw Failure(description: error.description)
        }
        return resolved
    }

    /// Reruns the job of the resolved manifest at `path`, writing to `output`. On a mismatch the new output is
    /// deleted unless `keepMismatch`; on any failure it is always deleted.
    public static func run(manifestPath path: String, output: String? = nil, mode: Mode, keepMismatch: Bool = false,
                           toolVersion: String = ToolVersion.current, signingKey: SigningPublicKey? = nil,
                           progress: @escaping @Sendable (Progress) -> Void = { _ in }) throws -> Report {
        let resolved = try check(manifestPath: path, toolVersion: toolVersion, signingKey: signingKey)
        var manifest = resolved.manifest
        manifest.output = URL(fileURLWithPath: output ?? defaultOutput(for: manifest.output)).standardizedFileURL.path
        // The rerun's output is a scratch file it owns; it must never be the recorded output, the input or the
        // manifest: by name, and (storage's inode check) through any link.
        for (other, what) in [(resolved.manifest.output, "the recorded output"), (manifest.input.path, "the input")]
        where OutputCheck.canonical(manifest.output) == OutputCheck.canonical(other) {
            throw Failure(description: "the replay output \(manifest.output) is \(what); pass --output with another path")
        }
        try AtomicHDF5Writer.checkWritable(path: manifest.output, distinctFrom: [path, resolved.manifest.output, manifest.input.path])
        manifest.overwrite = true
        // The rerun must read the input the job read (a cluster checks the pinned digest before planning).
        manifest.input.sha256 = resolved.inputSHA256
        // A job that trains publishes its balanced set only if asked: a rerun writes it beside its own output, under
        // the same name (the model records the name).
        let balancedDirectory = manifest.train?.balancedOutput == nil ? nil : (manifest.output as NSString).deletingPathExtension + ".balanced"
        if let balancedDirectory, let name = manifest.train?.balancedName {
            manifest.train?.balancedOutput = (balancedDirectory as NSString).appendingPathComponent(name)
        }
        let actual: String
        var actualContent: [String: String]?
        do {
            switch mode {
            case .local(let threads):
                progress(.verifyingInput(path: manifest.input.path))
                let inputSHA256: String
                do { inputSHA256 = try SHA256.hexDigest(ofFileAt: manifest.input.path) } catch {
                    throw Failure(description: "cannot read the input \(manifest.input.path): \(error)")
                }
                guard inputSHA256 == resolved.inputSHA256 else {
                    throw Failure(description: "the input \(manifest.input.path) has SHA-256 \(inputSHA256) but job \(resolved.job) read \(resolved.inputSHA256); replay needs the same input (nothing was recomputed)")
                }
                if let train = manifest.train {
                    actual = try trainLocally(manifest, train: train, balancedDirectory: balancedDirectory, inputSHA256: resolved.inputSHA256,
                                              threads: threads, progress: progress)
                    break
                }
                let runner = BalanceRunner(input: manifest.input.spec(), outputPath: manifest.output, settings: manifest.policy, threads: threads,
                                           layout: manifest.outputLayout)
                let summary = try runner.run { stage, done, total in progress(.stage(stage, done: done, total: total)) }
                guard summary.inputSHA256 == resolved.inputSHA256 else {
                    throw Failure(description: "the input \(manifest.input.path) changed during the replay (SHA-256 now \(summary.inputSHA256))")
                }
                actual = try summary.outputSHA256 ?? SHA256.hexDigest(ofFileAt: manifest.output)
                actualContent = summary.outputContentSHA256
            case .coordinator(let endpoint, let timeout, let security):
                if let balancedDirectory { try FileManager.default.createDirectory(atPath: balancedDirectory, withIntermediateDirectories: true) }
                let job = try ClusterClient(coordinator: endpoint, security: security).submit(manifest)
                progress(.submitted(job: job, coordinator: endpoint))
                let final = try ClusterClient.follow(job: job, coordinator: endpoint, timeoutSeconds: timeout, security: security) { progress(.job($0)) }
                guard final.state == .committed else {
                    throw Failure(description: "replay job \(job) \(final.state.rawValue): \(final.error ?? "no error reported")")
                }
                actual = try SHA256.hexDigest(ofFileAt: manifest.output)
                // The coordinator recorded the rerun's content digests while writing; a coordinator that did not
                // (an older release) leaves them to one read of the output.
                let rerun = try? ResolvedManifest.read(from: ResolvedManifest.path(forOutput: manifest.output))
                if resolved.outputContentSHA256 != nil {
                    actualContent = try rerun?.outputContentSHA256 ?? BalancedContentDigest.compute(ofFileAt: manifest.output)
                }
            }
        } catch {
            removeOutput(manifest.output, balancedDirectory: balancedDirectory)
            throw error
        }
        var report = Report(job: resolved.job, output: manifest.output, expectedSHA256: resolved.outputSHA256, actualSHA256: actual,
                            expectedContentSHA256: resolved.outputContentSHA256, actualContentSHA256: actualContent, outputKept: true,
                            signatureVerifiedBy: signingKey?.fingerprint)
        report.fileCompared = !(resolved.manifest.train == nil && resolved.manifest.publishMode == .virtual && resolved.outputContentSHA256 != nil)
        if manifest.train != nil && !report.matches {
            // A cluster rerun's model names its trainer's kernel, and its resolved manifest every machine's; a local
            // rerun ran on this process's.
            let replayed = blasCore(ofModelAt: manifest.output) ?? BLAS.coreName
            var replayedMachines: TrainingKernels?
            if case .coordinator = mode {
                replayedMachines = (try? ResolvedManifest.read(from: ResolvedManifest.path(forOutput: manifest.output)))?.training?.kernels
            }
            report.kernelMismatch = .between(recorded: blasCore(ofModelAt: resolved.manifest.output), replayed: replayed,
                                             recordedMachines: resolved.training?.kernels, replayedMachines: replayedMachines)
        }
        if !report.matches && !keepMismatch {
            removeOutput(manifest.output, balancedDirectory: balancedDirectory)
            report.outputKept = false
        }
        return report
    }

    /// The `blas_core` attribute of the model at `path`; nil when it has none or cannot be read (the recorded
    /// model may have been moved away: the comparison used the manifest's digest, not the file).
    static func blasCore(ofModelAt path: String) -> String? {
        (try? HDF5File.open(path: path).rootAttributes())?["blas_core"]?.stringValue
    }

    /// Deletes a rerun's output and the resolved manifest a cluster rerun wrote beside it (and the balanced set a
    /// rerun of a job that trains published).
    static func removeOutput(_ output: String, balancedDirectory: String? = nil) {
        try? FileManager.default.removeItem(atPath: output)
        // A cluster rerun of a `publish: virtual` job keeps its shard files beside its output.
        try? FileManager.default.removeItem(atPath: VirtualBalancedDataset.shardDirectory(forOutput: output))
        try? FileManager.default.removeItem(atPath: ResolvedManifest.path(forOutput: output))
        if let balancedDirectory { try? FileManager.default.removeItem(atPath: balancedDirectory) }
    }

    /// A job that trains, on this machine: `balance --layout compact` into a scratch directory under the name the
    /// model records, then `train` on it with the job's settings; the model's SHA-256.
    static func trainLocally(_ manifest: JobManifest, train: JobManifest.Train, balancedDirectory: String?, inputSHA256: String, threads: Int,
                             progress: @escaping @Sendable (Progress) -> Void) throws -> String {
        let scratch = balancedDirectory ?? (manifest.output as NSString).deletingPathExtension + ".balanced-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        // Ctrl-C must not leave the scratch directory and its balanced set (possibly gigabytes) behind; a
        // directory the user named (`--balanced-dir`) keeps whatever else it holds.
        let token = balancedDirectory == nil ? TemporaryFiles.registerScratchDirectory(scratch) : nil
        defer {
            if let token {
                try? FileManager.default.removeItem(atPath: scratch)
                TemporaryFiles.forgetScratchDirectory(token)
            }
        }
        let balanced = (scratch as NSString).appendingPathComponent(train.balancedName)
        let summary = try BalanceRunner(input: manifest.input.spec(), outputPath: balanced, settings: manifest.policy, threads: threads,
                                        layout: manifest.outputLayout).run { stage, done, total in progress(.stage(stage, done: done, total: total)) }
        guard summary.inputSHA256 == inputSHA256 else {
            throw Failure(description: "the input \(manifest.input.path) changed during the replay (SHA-256 now \(summary.inputSHA256))")
        }
        let runner = TrainingRunner(inputs: [balanced], output: manifest.output, settings: train.settings, threads: threads,
                                    calibration: train.calibration)
        let maxIterations = train.settings.optimizer.maxIterations
        // `train` is async (its blocks run on the compute pool); replay is a plain command: wait on this thread.
        let outcome = ConcurrentResults<Result<Void, any Error>>(count: 1)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                _ = try await runner.run(progress: { progress(.training(iteration: $0.iteration, of: maxIterations)) })
                outcome.set(0, .success(()))
            } catch { outcome.set(0, .failure(error)) }
            done.signal()
        }
        done.wait()
        try outcome.values[0]!.get()
        return try SHA256.hexDigest(ofFileAt: manifest.output)
    }
}
