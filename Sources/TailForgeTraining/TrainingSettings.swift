/// Settings of a training run.
public struct TrainingSettings: Codable, Sendable, Equatable {
    /// λ of ``SoftmaxObjective`` (`--l2`); scikit-learn's `C = 1/(λ·N)`.
    public var l2: Double = 1e-4
    public var optimizer = LBFGSSettings()
    public var classWeighting: ClassWeighting = .none

    public init(l2: Double = 1e-4, optimizer: LBFGSSettings = LBFGSSettings(), classWeighting: ClassWeighting = .none) {
        self.l2 = l2
        self.optimizer = optimizer
        self.classWeighting = classWeighting
    }
}
