/// A smooth function of a float64 vector that ``LBFGS`` minimises.
public protocol DifferentiableObjective: Sendable {
    var parameterCount: Int { get }
    /// The value and gradient at `x` (`x.count == parameterCount`). A non-finite value is allowed and makes
    /// the line search shorten its step.
    func evaluate(_ x: [Double]) async throws -> ObjectiveEvaluation
}

/// A function value and its gradient.
public struct ObjectiveEvaluation: Sendable, Equatable {
    public var value: Double
    public var gradient: [Double]

    public init(value: Double, gradient: [Double]) {
        self.value = value
        self.gradient = gradient
    }
}
