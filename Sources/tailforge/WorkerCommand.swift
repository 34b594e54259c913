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

    @Option(help: "Name shown by `tailforge status` and in logs (default: HOST and a digest of the work directory, the same after a restart).")
    var name: String?

    @Option(name: .customLong("cache-max-bytes"), help: "Streamed inputs kept in the work directory beyond this many bytes are deleted, least recently used first.")
    var cacheMaxBytes: Int64 = WorkerConfiguration.defaultCacheMaxBytes

    func validate() throws {
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
        guard cacheMaxBytes >= 0 else { throw ValidationError("--cache-max-bytes must be 0 or more") }
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let logger = DaemonService.logger(label: "tailforge.worker")
        let service = DaemonService.worker(connect: connect, workDirectory: workDir, threads: threads, name: name,
                                           cacheMaxBytes: cacheMaxBytes, logger: logger)
        try await DaemonService.runUntilSignalled([service], logger: logger)
    }
}
