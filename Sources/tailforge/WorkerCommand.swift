import ArgumentParser
import Foundation
import TailForgeCluster

/// `tailforge worker`: the daemon that computes shards for a coordinator.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a cluster worker daemon that computes shards for a coordinator until SIGTERM or SIGINT.")

    @Option(help: "The coordinator's endpoint (tcp://HOST:5555).")
    var connect: String

    @Option(name: .customLong("work-dir"), help: "Directory for streamed inputs and shard files.")
    var workDir: String

    @Option(help: "Compute threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Name shown by `tailforge status` (default: HOST-PID).")
    var name: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let logger = DaemonService.logger(label: "tailforge.worker")
        let service = DaemonService.worker(connect: connect, workDirectory: workDir, threads: threads, name: name, logger: logger)
        try await DaemonService.runUntilSignalled([service], logger: logger)
    }
}
