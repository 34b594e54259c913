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

    @OptionGroup var connection: CoordinatorOptions

    @Option(help: "Only jobs in these states, comma-separated: queued, running, gathering, training, committed, failed, cancelled, or live (the first four).")
    var state: String?

    @Flag(help: "List every finished job (by default: live jobs and the \(StatusCommand.recentFinished) most recent finished ones).")
    var all = false

    @Flag(help: "Print the reply (jobs and workers, with the coordinator's and each worker's OpenBLAS kernel family `blasCore` and a training job's `kernels` and `kernelWarning`) as one JSON object on stdout.")
    var json = false

    static let recentFinished = 10

    var filter: JobStateFilter? {
        get throws {
            guard let state else { return nil }
            do { return try JobStateFilter(parsing: state) } catch { throw ValidationError(error.description) }
        }
    }

    func validate() throws { _ = try filter }

    func run() throws {
        var reply = try connection.client().status(job: job)
        if let filter = try filter { reply.jobs = reply.jobs.filter(filter.admits) }
        // A coordinator keeps finished jobs for its retention period; the table shows the recent ones.
        var older = 0
        if !all, job == nil {
            let finished = reply.jobs.indices.filter { reply.jobs[$0].state.isTerminal }
            let hidden = Set(finished.dropLast(Self.recentFinished))
            older = hidden.count
            reply.jobs = reply.jobs.indices.filter { !hidden.contains($0) }.map { reply.jobs[$0] }
        }
        if json {
            try JSONOutput.line(reply)
            return
        }
        if older > 0 { print("… \(older) older finished job(s); --all lists them") }
        if reply.jobs.isEmpty { print(state == nil ? "no jobs" : "no jobs in state \(state!)") }
        for status in reply.jobs {
            let time = status.state.isTerminal ? "took \(JobProgressBar.seconds(status.elapsedSeconds))"
                : "running for \(JobProgressBar.seconds(status.elapsedSeconds))"
            var line = "\(status.job)  \(status.name == status.job ? "" : status.name + "  ")\(status.state.rawValue)"
            // A training job's last balancing stage says nothing: show where its fit is, or whom it waits for.
            if status.state == .training, let training = status.training { line += " (\(training.summary))" }
            else if let stage = status.stage, !status.state.isTerminal { line += " (\(stage.rawValue))" }
            // A finished job still says what happened to its named trainer.
            else if status.state.isTerminal, let history = status.training?.trainerHistory { line += " (\(history))" }
            line += "  \(time)  shards \(status.shardsDone)/\(status.shardCount)  classes \(status.classesDone)/\(status.classCount)"
            line += "  rows \(status.rowsWritten)/\(status.totalRows)"
            if !status.state.isTerminal { line += "  workers \(status.workers)" }
            line += "  → \(status.output)"
            print(line)
            if let error = status.error { print("    error: \(error)") }
            if let verification = status.verification { print("    \(verification)") }
            if let warning = status.kernelWarning { print("    warning: \(warning)") }
        }
        if job == nil {
            print("\(reply.workers.count) worker(s)" + (reply.blasCore.map { " (the coordinator runs OpenBLAS \($0))" } ?? ""))
            for worker in reply.workers {
                print(String(format: "  %@ on %@, OpenBLAS %@: %@ (heard %.1fs ago)", worker.workerId, worker.host, worker.blasCore ?? TrainingKernels.unknown,
                             worker.activity, worker.secondsSinceHeartbeat))
            }
        }
    }
}
