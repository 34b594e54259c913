/// Everything the optimiser needs to continue: a checkpoint. Save it every K iterations and pass it back to
/// ``LBFGS/minimize(_:from:onIteration:)`` to resume exactly where it stopped (the continuation is
/// bit-identical to an uninterrupted run, given a deterministic objective).
public struct LBFGSState: Codable, Sendable, Equatable {
    /// One correction pair: s = x_{k+1} − x_k, y = g_{k+1} − g_k, ρ = 1/(sᵀy).
    public struct Correction: Codable, Sendable, Equatable {
        public var s: [Double]
        public var y: [Double]
        public var rho: Double

        public init(s: [Double], y: [Double], rho: Double) {
            self.s = s; self.y = y; self.rho = rho
        }
    }

    /// Completed iterations.
    public var iteration: Int
    /// Objective evaluations so far (including line-search trials).
    public var evaluations: Int
    public var x: [Double]
    public var loss: Double
    /// The loss one iteration earlier (nil before the first iteration), for the relative-decrease test.
    public var previousLoss: Double?
    public var gradient: [Double]
    /// ‖g₀‖, the reference of the relative gradient test.
    public var initialGradientNorm: Double
    /// Oldest first, at most `historySize` pairs.
    public var history: [Correction]
    /// Wall-clock seconds spent before this state was saved (so resumed runs report total time).
    public var seconds: Double

    /// Rebuilds a state from its parts (for example from a checkpoint file).
    public init(iteration: Int, evaluations: Int, x: [Double], loss: Double, previousLoss: Double?, gradient: [Double],
                initialGradientNorm: Double, history: [Correction], seconds: Double) {
        self.iteration = iteration; self.evaluations = evaluations; self.x = x; self.loss = loss
        self.previousLoss = previousLoss; self.gradient = gradient; self.initialGradientNorm = initialGradientNorm
        self.history = history; self.seconds = seconds
    }
}
