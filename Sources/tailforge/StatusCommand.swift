import ArgumentParser
import Foundation
import TailForgeCluster

/// `tailforge status`: jobs, shards and workers of a coordinator.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a coordinator's jobs and workers, or one job."
    )

    @Argument(help: "A job id (default: all jobs).")
    var job: String?

    @Option(help: "The coordinator's endpoint.")
    var coordinator: String = "tcp://127.0.0.1:5555"

    func run() throws {
        let reply = try ClusterClient(coordinator: coordinator).status(job: job)
        for status in reply.jobs {
            var line = "\(status.job)  \(status.state.rawValue)"
            if let stage = status.stage { line += "  \(stage.rawValue)" }
            line += "  shards \(status.shardsDone)/\(status.shardCount)  classes \(status.classesDone)/\(status.classCount)"
            line += "  rows \(status.rowsWritten)/\(status.totalRows)  workers \(status.workers)"
            line += String(format: "  %.1fs  → %@", status.elapsedSeconds, status.output)
            print(line)
            if let error = status.error { print("    error: \(error)") }
        }
        if job == nil {
            print("\(reply.workers.count) worker(s)")
            for worker in reply.workers {
                let busy = worker.busyWith.map { "busy with \($0)" } ?? "idle"
                print(String(format: "  %@ on %@: %@ (heard %.1fs ago)", worker.workerId, worker.host, busy, worker.secondsSinceHeartbeat))
            }
        }
    }
}
