import TailForgeEngine

/// Where `tailforge ablate` balances its recipes' training sets: on this machine's threads
/// (``LocalAblationBalancer``) or as jobs on a cluster (`ClusterAblationBalancer`, TailForgeCluster). Either
/// writes at ``AblationBalancing/output`` the bytes single-node `balance --layout compact` writes, so the models
/// trained on it, and the report, are the same wherever the balancing ran.
public protocol AblationBalancer: Sendable {
    /// Every balancing the run needs, before any recipe is fitted: a cluster submits them all here, so a refused
    /// job (an input the coordinator cannot read) or an unreachable coordinator ends the run before any report
    /// is written, and the cluster balances later recipes while earlier ones are fitted.
    func start(_ balancings: [AblationBalancing]) async throws
    /// Writes (or waits for) one of the balancings `start` was given; returns its wall seconds.
    func finish(_ balancing: AblationBalancing) async throws -> Double
    /// Gives up the balancings started and not yet finished (the run failed elsewhere).
    func abandon()
}

/// One recipe's balanced training set: its input, output and `balance` settings.
public struct AblationBalancing: Sendable, Equatable {
    public var recipe: String
    public var input: String
    /// The compact balanced file to write.
    public var output: String
    public var settings: BalanceSettings

    public init(recipe: String, input: String, output: String, settings: BalanceSettings) {
        self.recipe = recipe
        self.input = input
        self.output = output
        self.settings = settings
    }
}
