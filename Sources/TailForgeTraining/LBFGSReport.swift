/// Why the optimiser stopped.
public enum LBFGSStopReason: String, Codable, Sendable, Equatable, CustomStringConvertible {
    /// ‖g‖ ≤ tolerance · ‖g₀‖.
    case gradientTolerance = "gradient-tolerance"
    /// The relative loss decrease fell below its tolerance.
    case lossTolerance = "loss-tolerance"
    /// The gradient is exactly zero.
    case zeroGradient = "zero-gradient"
    /// The iteration cap was reached first: **not converged**.
    case maxIterations = "max-iterations"
    /// No step satisfying the Wolfe conditions was found even along the steepest descent: **not converged**
    /// (usually the loss is at its float32 noise floor; look at the gradient norm).
    case lineSearchFailed = "line-search-failed"

    public var converged: Bool {
        switch self {
        case .gradientTolerance, .lossTolerance, .zeroGradient: true
        case .maxIterations, .lineSearchFailed: false
        }
    }

    public var description: String {
        switch self {
        case .gradientTolerance: "gradient norm reached its tolerance relative to the initial gradient"
        case .lossTolerance: "relative loss decrease reached its tolerance"
        case .zeroGradient: "gradient is zero"
        case .maxIterations: "NOT CONVERGED: iteration limit reached"
        case .lineSearchFailed: "NOT CONVERGED: the line search found no acceptable step"
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
