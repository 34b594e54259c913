/// Why the optimiser stopped. Its `description` is the one sentence to show a user: whether the run
/// converged, and why it stopped.
public enum LBFGSStopReason: String, Codable, Sendable, Equatable, CustomStringConvertible {
    /// ‖g‖ ≤ tolerance · ‖g₀‖.
    case gradientTolerance = "gradient-tolerance"
    /// The relative loss decrease fell below its tolerance.
    case lossTolerance = "loss-tolerance"
    /// The gradient is exactly zero.
    case zeroGradient = "zero-gradient"
    /// No step the objective can see is left along the search direction: every parameter would move by less
    /// than half a float32 ulp (``ParameterPrecision/float32``). Converged as far as float32 parameters allow.
    case float32Resolution = "float32-resolution"
    /// The iteration cap was reached first: **not converged**.
    case maxIterations = "max-iterations"
    /// The evaluation limit (``LBFGSSettings/maxEvaluations``) was reached first: **not converged**.
    case maxEvaluations = "max-evaluations"
    /// No step lowering the loss enough was found even along the steepest descent, with steps still above
    /// float32 resolution: **not converged** (look at the gradient norm).
    case lineSearchFailed = "line-search-failed"

    public var converged: Bool {
        switch self {
        case .gradientTolerance, .lossTolerance, .zeroGradient, .float32Resolution: true
        case .maxIterations, .maxEvaluations, .lineSearchFailed: false
        }
    }

    public var description: String {
        switch self {
        case .gradientTolerance: "converged: the gradient norm fell to its tolerance relative to the initial gradient"
        case .lossTolerance: "converged: the relative loss decrease fell below its tolerance"
        case .zeroGradient: "converged: the gradient is zero"
        case .float32Resolution: "converged at float32 resolution: a further step would move no weight by half a float32 ulp"
        case .maxIterations: "not converged: the iteration limit was reached first"
        case .maxEvaluations: "not converged: the evaluation limit was reached first"
        case .lineSearchFailed: "not converged: the line search found no step that lowers the loss enough"
        }
    }
}

/// The outcome of an ``LBFGS`` run.
public struct LBFGSReport: Codable, Sendable, Equatable {
    public var converged: Bool
    public var reason: LBFGSStopReason
    public var iterations: Int
    public var finalLoss: Double
    public var gradientNorm: Double
    public var initialGradientNorm: Double
    /// Objective evaluations (each one loss+gradient pass over the data).
    public var evaluations: Int
    public var seconds: Double
}

/// What the per-iteration callback sees.
public struct LBFGSIteration: Sendable, Equatable {
    public var iteration: Int
    public var loss: Double
    public var gradientNorm: Double
    /// Accepted step length along the search direction.
    public var step: Double
    /// Objective evaluations so far.
    public var evaluations: Int
    /// Seconds since the start of the run (including time before a resume).
    public var seconds: Double
}
