/// A stage of a balancing job, for progress reports and stage timings. The raw values are what users see
/// (progress lines, `time` in the summary), so they stay as they are; the case names match the cluster's
/// ``ShardStage`` where the stage is the same.
public enum BalanceStage: String, Sendable {
    case read = "read"
    /// κ of every real row (the cluster's stage `concentrations`).
    case concentrations = "kappa"
    case synthesize = "synthesize+write"
    /// Closing the file, fsync and rename; the output file digest is read meanwhile.
    case commit = "commit"
    /// What the output file digest takes after the commit (it starts when the file is closed, beside the fsync).
    case digest = "digest"
}
