/// Why `tailforge ablate --coordinator` could not balance a recipe on the cluster, saying what, where and what to do.
public enum ClusterAblationError: Error, CustomStringConvertible {
    /// The job could not be submitted: the coordinator did not answer, or the connection failed.
    case unreachable(recipe: String, coordinator: String, error: ClusterClientError)
    /// The coordinator refused the job (most often: it cannot read the input or write the work directory).
    case refused(recipe: String, coordinator: String, reason: String, input: String, output: String)
    /// The job ended without committing.
    case jobEnded(recipe: String, coordinator: String, job: String, state: JobState, error: String?)
    /// The coordinator fell silent while the job ran.
    case lost(recipe: String, coordinator: String, job: String, error: ClusterClientError)
    /// The coordinator (and so its workers) runs another TailForge version (nil: a release that does not say).
    case otherVersion(coordinator: String, theirs: String?, ours: String)

    private static let sharedPaths = "ablate --coordinator has the coordinator and its workers read the training file and "
        + "write each balanced set and model into the work directory at the paths this machine uses, so both must be on a filesystem "
        + "they share, at the same absolute paths, inside the coordinator's --data-root"

    public var description: String {
        switch self {
        case .unreachable(let recipe, let coordinator, let error):
            "cannot submit recipe \(recipe)'s job to \(coordinator): \(error). Start the coordinator or fix --coordinator "
                + "(and --key/--coordinator-key), or leave out --coordinator to balance on this machine"
        case .refused(let recipe, let coordinator, let reason, let input, let output):
            "the coordinator at \(coordinator) refused recipe \(recipe)'s job (input \(input), output \(output)): \(reason) "
                + "— \(Self.sharedPaths); or leave out --coordinator to balance on this machine"
        case .jobEnded(let recipe, let coordinator, let job, let state, let error):
            "recipe \(recipe)'s job \(job) was \(state.rawValue) on \(coordinator)\(error.map { ": \($0)" } ?? "")"
                + " (`tailforge status \(job) --coordinator \(coordinator)` shows it); run ablate again to resume: recipes already "
                + "in the --json report are kept"
        case .otherVersion(let coordinator, let theirs, let ours):
            "the coordinator at \(coordinator) runs TailForge \(theirs ?? "older than 0.2.0 (it does not report its version)") and its workers the same, "
                + "but this ablate is TailForge \(ours): another release may balance and fit other bits, so the report and models would "
                + "not be a local run's. Nothing was submitted. Install TailForge \(ours) on the coordinator and workers, leave out "
                + "--coordinator to run on this machine, or pass --allow-version-mismatch to use the cluster anyway"
        case .lost(let recipe, let coordinator, let job, let error):
            "lost the coordinator at \(coordinator) while waiting for recipe \(recipe)'s job \(job): \(error). The job "
                + "may still run: `tailforge cancel \(job) --coordinator \(coordinator)` stops it"
        }
    }
}
