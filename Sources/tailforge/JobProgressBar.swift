import Foundation
import TailForgeCluster

/// A cluster job's progress in the common `ProgressBar` style: one bar per stage, counting shards, with
/// classes, rows and the workers taking part in the job (`JobStatus.workers`) as detail.
struct JobProgressBar {
    let bar = ProgressBar()

    func show(_ status: JobStatus) {
        if status.state == .training, let training = status.training {
            bar.update("training", done: training.iteration, total: max(1, training.maxIterations),
                       detail: "\(training.summary) · \(Self.seconds(status.elapsedSeconds))")
            return
        }
        let label = status.state.isTerminal || status.state == .gathering || status.stage == nil
            ? status.state == .queued ? "planning" : status.state.rawValue
            : status.stage!.rawValue
        let detail = "shards · classes \(status.classesDone)/\(status.classCount) · rows \(status.rowsWritten)/\(status.totalRows)"
            + " · \(status.workers) worker\(status.workers == 1 ? "" : "s") · \(Self.seconds(status.elapsedSeconds))"
        // Before the plan there are no shards to count: show planning as not started rather than 0/0 = 100 %.
        let total = status.shardCount == 0 && !status.state.isTerminal ? 1 : status.shardCount
        bar.update(label, done: status.shardsDone, total: total, detail: detail)
    }

    /// The last report; the outcome itself is printed by the command (`wait`'s final line, `replay`'s failure).
    func finish(_ status: JobStatus) {
        show(status)
        bar.close()
    }

    /// `42s`, `3m05s`, `2h07m`.
    static func seconds(_ value: Double) -> String {
        let s = Int(max(0, value).rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}
