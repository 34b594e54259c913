/// A smooth function of a float64 vector that ``LBFGS`` minimises.
public protocol DifferentiableObjective: Sendable {
    var parameterCount: Int { get }
    /// The precision the parameters are evaluated in (``ParameterPrecision/float64`` unless implemented).
    var parameterPrecision: ParameterPrecision { get }
    /// The value and gradient at `x` (`x.count == parameterCount`). A non-finite value is allowed and makes
    /// the line search shorten its step.
    func evaluate(_ x: [Double]) async throws -> ObjectiveEvaluation
}

/// What an objective does with the float64 parameters the optimiser hands it.
public enum ParameterPrecision: Sendable, Equatable {
    /// Used as they are.
    case float64
    /// Rounded to `Float` first (float32 data and GEMMs): a step that moves no parameter by half an ulp of its
    /// float32 value changes nothing but rounding, so ``LBFGS`` stops there ("converged at float32 resolution")
    /// instead of searching below that resolution.
    case float32
}

extension DifferentiableObjective {
    public var parameterPrecision: ParameterPrecision { .float64 }
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
