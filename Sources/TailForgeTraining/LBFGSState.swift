/// Everything the optimiser needs to continue: a checkpoint. Save it every K iterations and pass it back to
/// ``LBFGS/minimize(_:from:onIteration:)`` to resume exactly where it stopped (the continuation is
/// bit-identical to an uninterrupted run, given a deterministic objective).
public struct LBFGSState: Codable, Sendable, Equatable {
    /// One correction pair: s = x_{k+1} − x_k, y = g_{k+1} − g_k, ρ = 1/(sᵀy).
    public struct Correction: Codable, Sendable, Equatable {
        public var s: [Double]
        public var y: [Double]
        public var rho: Double
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
}
