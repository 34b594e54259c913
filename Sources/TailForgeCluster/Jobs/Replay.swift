import Foundation
import TailForgeEngine
import TailForgeStorage

/// Reruns a committed job from its resolved manifest (`OUT.manifest.json`) and checks the new output is
/// bit-identical to the recorded one — on a cluster or on this machine, since the engine draws per
/// (seed, class) and the bytes cannot depend on the number of workers.
public enum Replay {
    /// Where the rerun happens.
    public enum Mode: Sendable {
        /// Single-node `BalanceRunner` with this many threads.
        case local(threads: Int)
        /// A coordinator at this endpoint.
        case coordinator(String)
    }

    /// The recorded and the new digest.
    public struct Report: Sendable, Equatable {
        public var job: String
        public var output: String
        public var expectedSHA256: String
        public var actualSHA256: String
        public var matches: Bool { expectedSHA256 == actualSHA256 }
    }

    /// Why a replay could not run to a comparison.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The replay's default output beside the original: `OUT.replay.h5` for `OUT.h5`.
    public static func defaultOutput(for original: String) -> String {
        ((original as NSString).deletingPathExtension) + ".replay.h5"
    }

    /// Reruns the job of the resolved manifest at `path`, writing to `output`; `progress` gets cluster job status
    /// or `(stage, done, total)` text, for a progress line.
    public static func run(manifestPath path: String, output: String? = nil, mode: Mode,
                           progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> Report {
        let resolved: ResolvedManifest
        do { resolved = try ResolvedManifest.read(from: path) } catch {
            throw Failure(description: "\(path) is not a resolved manifest (OUT.manifest.json written by the coordinator): \(error)")
        }
        var manifest = resolved.manifest
        manifest.output = URL(fileURLWithPath: output ?? defaultOutput(for: manifest.output)).standardizedFileURL.path
        // The rerun must read the input the job read.
        manifest.input.sha256 = resolved.inputSHA256
        let actual: String
        switch mode {
        case .local(let threads):
            let runner = BalanceRunner(input: manifest.input.spec(), outputPath: manifest.output, settings: manifest.policy, threads: threads)
            let summary = try runner.run { stage, done, total in progress("\(stage.rawValue) \(done)/\(total)") }
            guard summary.inputSHA256 == resolved.inputSHA256 else {
                throw Failure(description: "input \(manifest.input.path) has SHA-256 \(summary.inputSHA256), the job read \(resolved.inputSHA256)")
            }
            actual = try summary.outputSHA256 ?? SHA256.hexDigest(ofFileAt: manifest.output)
        case .coordinator(let endpoint):
            let client = try ClusterClient(coordinator: endpoint)
            let job = try client.submit(manifest)
            let final = try client.watch(job: job) { status in
                progress("\(status.job) \(status.state.rawValue) shards \(status.shardsDone)/\(status.shardCount) rows \(status.rowsWritten)/\(status.totalRows)")
            }
            guard final.state == .committed else {
                throw Failure(description: "replay job \(job) \(final.state.rawValue): \(final.error ?? "no error reported")")
            }
            actual = try SHA256.hexDigest(ofFileAt: manifest.output)
        }
        return Report(job: resolved.job, output: manifest.output, expectedSHA256: resolved.outputSHA256, actualSHA256: actual)
    }
}
