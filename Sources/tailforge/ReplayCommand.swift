import ArgumentParser
import Foundation
import TailForgeCluster
import TailForgeEngine

/// `tailforge replay`: reruns a committed job and checks the output is bit-identical.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rerun a job from its resolved manifest (OUT.manifest.json) and verify the new output is bit-identical.",
        discussion: """
            A job that trains gives the same model bytes only on the OpenBLAS kernel family it trained on (the model's \
            blas_core attribute names the trainer's; the resolved manifest's training.kernels every machine's): when the \
            replayed model differs and the families differ, or the job's machines mixed families, replay names them and \
            how to pin one (OPENBLAS_CORETYPE).
            """)

    @Argument(help: "The resolved manifest the coordinator wrote next to the job's output.")
    var manifest: String

    @Option(help: "Rerun on the coordinator at this endpoint.")
    var coordinator: String?

    @OptionGroup var keys: PeerKeyOptions

    @Flag(help: "Rerun on this machine with single-node balance (and train, for a job that trains).")
    var local = false

    @Option(name: .shortAndLong, help: "Where the rerun writes (default: OUT.replay.h5 beside the original output).")
    var output: String?

    @Option(help: "Threads of a local rerun.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "With --coordinator: seconds to keep trying while the coordinator does not answer (a restart).")
    var timeout: Double = 120

    @Flag(help: "Keep the rerun's output when it differs from the recorded one (it is deleted otherwise).")
    var keepOutput = false

    @Option(name: .customLong("coordinator-signing-key"),
            help: "The coordinator's public signing key (NAME.sign.pub from `tailforge keygen`): refuse a manifest it did not sign as it is.")
    var coordinatorSigningKey: String?

    func validate() throws {
        guard (coordinator != nil) != local else { throw ValidationError("choose one of --coordinator ENDPOINT or --local") }
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
        try CommandLimits.check("timeout", timeout, in: 0.001...604_800, meaning: "a number of seconds above 0 and at most 604800 (a week)")
    }

    func run() throws {
        let mode: Replay.Mode = try coordinator.map { .coordinator($0, timeoutSeconds: timeout, security: try keys.security()) } ?? .local(threads: threads)
        let signingKey = try coordinatorSigningKey.map { path throws(KeyFileError) in try SigningPublicKey.load(publicKeyFile: path) }
        let bar = ProgressBar()
        let jobBar = JobProgressBar()
        let report: Replay.Report
        do {
            report = try Replay.run(manifestPath: manifest, output: output, mode: mode, keepMismatch: keepOutput,
                                    signingKey: signingKey) { progress in
                switch progress {
                case .verifyingInput(let path): bar.say("checking the input's SHA-256 before recomputing: \(path)")
                case .stage(let stage, let done, let total): bar.update(stage.rawValue, done: done, total: total)
                case .submitted(let job, let coordinator):
                    bar.say("replay job \(job) submitted to \(coordinator)")
                    InterruptNotice.install(job: job, coordinator: coordinator)
                case .job(let status): jobBar.show(status)
                case .training(let iteration, let of): bar.update("training", done: iteration, total: max(1, of))
                }
            }
        } catch {
            bar.close(); jobBar.bar.close()
            throw CommandFailure("replay failed: \(error)")
        }
        bar.close(); jobBar.bar.close()
        print(report.signatureVerifiedBy.map { "signature verified: signed by the coordinator key \($0)" }
              ?? "signature not checked (pass --coordinator-signing-key NAME.sign.pub to check it); only the seal, which anyone can recompute, was checked")
        print("recorded SHA-256 \(report.expectedSHA256)")
        print("replayed SHA-256 \(report.actualSHA256)  (\(report.outputKept ? report.output : "deleted; --keep-output keeps it"))")
        if !report.fileCompared {
            print("file SHA-256 not compared: the job published a virtual file (publish: virtual), whose bytes name its shard files; its rows are compared by content SHA-256")
        }
        if report.expectedContentSHA256 != nil {
            let differing = report.differingDatasets
            print(differing.isEmpty ? "content SHA-256 of every dataset matches"
                  : "content SHA-256 differs for " + differing.map { "/" + $0 }.joined(separator: ", "))
        }
        if report.matches {
            print(report.fileCompared ? "replay of \(report.job) is bit-identical" : "replay of \(report.job) has bit-identical rows (every dataset's content)")
        } else {
            let what = report.fileMatches ? "its dataset contents differ" : report.contentMatches ? "the file differs" : "the file and the dataset contents differ"
            FileHandle.standardError.write(Data("replay of \(report.job) differs from the recorded output (\(what))\n".utf8))
            if let mismatch = report.kernelMismatch { FileHandle.standardError.write(Data("likely why: \(mismatch)\n".utf8)) }
            throw ExitCode.failure
        }
    }
}
