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

    private static let sharedPaths = "ablate --coordinator has the coordinator and its workers read the training file and "
        + "write each balanced set into the work directory at the paths this machine uses, so both must be on a filesystem "
        + "they share, at the same absolute paths, inside the coordinator's --data-root"

    public var description: String {
        switch self {
        case .unreachable(let recipe, let coordinator, let error):
            "cannot submit recipe \(recipe)'s balancing job to \(coordinator): \(error). Start the coordinator or fix --coordinator "
                + "(and --key/--coordinator-key), or leave out --coordinator to balance on this machine"
        case .refused(let recipe, let coordinator, let reason, let input, let output):
            "the coordinator at \(coordinator) refused recipe \(recipe)'s balancing job (input \(input), output \(output)): \(reason) "
                + "— \(Self.sharedPaths); or leave out --coordinator to balance on this machine"
        case .jobEnded(let recipe, let coordinator, let job, let state, let error):
            "recipe \(recipe)'s balancing job \(job) was \(state.rawValue) on \(coordinator)\(error.map { ": \($0)" } ?? "")"
                + " (`tailforge status \(job) --coordinator \(coordinator)` shows it); run ablate again to resume: recipes already "
                + "in the --json report are kept"
        case .lost(let recipe, let coordinator, let job, let error):
            "lost the coordinator at \(coordinator) while waiting for recipe \(recipe)'s balancing job \(job): \(error). The job "
                + "may still run: `tailforge cancel \(job) --coordinator \(coordinator)` stops it"
        }
    }
}
