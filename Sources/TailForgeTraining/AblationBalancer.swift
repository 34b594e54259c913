import TailForgeEngine

/// Where `tailforge ablate` balances its recipes' training sets: on this machine's threads
/// (``LocalAblationBalancer``) or as jobs on a cluster (`ClusterAblationBalancer`, TailForgeCluster). Either
/// writes at ``AblationBalancing/output`` the bytes single-node `balance --layout compact` writes, so the models
/// trained on it, and the report, are the same wherever the balancing ran. A cluster also fits the recipe's
/// calibrated model in the same job (a `train:` section with `calibrate: true`), writing at
/// ``AblationBalancing/model`` the bytes `train --calibrate` writes; it says so in ``AblationBalanced/fit``.
public protocol AblationBalancer: Sendable {
    /// Every balancing the run needs, before any recipe is fitted: a cluster submits them all here, so a refused
    /// job (an input the coordinator cannot read) or an unreachable coordinator ends the run before any report
    /// is written, and the cluster balances later recipes while earlier ones are fitted.
    func start(_ balancings: [AblationBalancing]) async throws
    /// Writes (or waits for) one of the balancings `start` was given.
    func finish(_ balancing: AblationBalancing) async throws -> AblationBalanced
    /// Gives up the balancings started and not yet finished (the run failed elsewhere).
    func abandon()
}

/// One recipe's balanced training set: its input, output and `balance` settings, and the calibrated model trained
/// on it (which a balancer may fit in the same go).
public struct AblationBalancing: Sendable, Equatable {
    public var recipe: String
    public var input: String
    /// The compact balanced file to write.
    public var output: String
    public var settings: BalanceSettings
    /// The model file `train --calibrate` writes from `output` with `training` and `calibration`.
    public var model: String
    public var training: TrainingSettings
    public var calibration: CalibrationSettings

    public init(recipe: String, input: String, output: String, settings: BalanceSettings, model: String,
                training: TrainingSettings, calibration: CalibrationSettings) {
        self.recipe = recipe
        self.input = input
        self.output = output
        self.settings = settings
        self.model = model
        self.training = training
        self.calibration = calibration
    }
}

/// What a balancer did for one recipe.
public struct AblationBalanced: Sendable, Equatable {
    /// Wall seconds of the balancing.
    public var balanceSeconds: Double
    /// Set when the balancer also wrote the calibrated model (a cluster job that trains); nil leaves the fit to
    /// the caller.
    public var fit: Fit?

    /// A fit: what `train --calibrate` reports.
    public struct Fit: Sendable, Equatable {
        public var rows: Int
        /// The final fit's λ (the chosen one with `--l2 auto`).
        public var l2: Double
        /// What the calibration chose, as the model stores it.
        public var calibration: CalibrationRecord?
        public var calibrationFitSeconds: Double
        public var finalFitSeconds: Double
        public init(rows: Int, l2: Double, calibration: CalibrationRecord?, calibrationFitSeconds: Double, finalFitSeconds: Double) {
            self.rows = rows
            self.l2 = l2
            self.calibration = calibration
            self.calibrationFitSeconds = calibrationFitSeconds
            self.finalFitSeconds = finalFitSeconds
        }
    }

    public init(balanceSeconds: Double, fit: Fit? = nil) {
        self.balanceSeconds = balanceSeconds
        self.fit = fit
    }
}
