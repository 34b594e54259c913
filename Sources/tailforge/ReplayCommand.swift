import ArgumentParser
import Foundation
import TailForgeCluster

/// `tailforge replay`: reruns a committed job and checks the output is bit-identical.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rerun a job from its resolved manifest (OUT.manifest.json) and verify the new output is bit-identical.")

    @Argument(help: "The resolved manifest the coordinator wrote next to the job's output.")
    var manifest: String

    @Option(help: "Rerun on the coordinator at this endpoint.")
    var coordinator: String?

    @Flag(help: "Rerun on this machine with single-node balance.")
    var local = false

    @Option(name: .shortAndLong, help: "Where the rerun writes (default: OUT.replay.h5 beside the original output).")
    var output: String?

    @Option(help: "Threads of a local rerun.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard (coordinator != nil) != local else { throw ValidationError("choose one of --coordinator ENDPOINT or --local") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let mode: Replay.Mode = coordinator.map { .coordinator($0) } ?? .local(threads: threads)
        let report = try Replay.run(manifestPath: manifest, output: output, mode: mode) { line in
            FileHandle.standardError.write(Data("\r\(line)   ".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        print("recorded SHA-256 \(report.expectedSHA256)")
        print("replayed SHA-256 \(report.actualSHA256)  (\(report.output))")
        if report.matches {
            print("replay of \(report.job) is bit-identical")
        } else {
            FileHandle.standardError.write(Data("replay of \(report.job) differs from the recorded output\n".utf8))
            throw ExitCode.failure
        }
    }
}
