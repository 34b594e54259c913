/// The training objective: mean weighted cross-entropy plus an L2 penalty on the weights (not the biases).
///
///     f(W, b) = (1/N) · Σᵢ wᵢ · CE(xᵢ, yᵢ; W, b) + (λ/2) · ‖W‖²
///
/// where N is the number of rows (not the sum of weights) and λ is `l2` (`--l2`).
///
/// ## Relation to scikit-learn's `C`
/// `LogisticRegression(C=…)` minimises `C · Σᵢ wᵢ·CEᵢ + ½‖W‖²` (intercept not penalised). Dividing by `C·N`
/// gives the same minimiser as `(1/N)·Σᵢ wᵢ·CEᵢ + (1/(2·C·N))·‖W‖²`, so **λ = 1/(C·N)** and **C = 1/(λ·N)**;
/// see ``scikitLearnC(l2:rows:)``. Class weights match `class_weight` (they multiply each row's loss).
///
/// The optimiser works in float64; the parameters are rounded to float32 for the data term (the data and
/// GEMMs are float32), and the penalty uses the float64 values.
public struct SoftmaxObjective: DifferentiableObjective {
    public let source: any GradientSource
    public let l2: Double

    public init(source: any GradientSource, l2: Double) throws(TrainingError) {
        guard l2.isFinite, l2 >= 0 else { throw .invalidSetting(name: "l2", value: "\(l2)", expected: "finite and non-negative") }
        guard source.rowCount > 0 else { throw .noShards }
        self.source = source
        self.l2 = l2
    }

    public var parameterCount: Int { source.classCount * (source.dimension + 1) }

    /// The data term sees the parameters rounded to float32 (``parameters(from:)``).
    public var parameterPrecision: ParameterPrecision { .float32 }

    /// scikit-learn's `C` for the same objective on `rows` rows.
    public static func scikitLearnC(l2: Double, rows: Int) -> Double { 1 / (l2 * Double(rows)) }

    /// The `l2` matching scikit-learn's `C` on `rows` rows.
    public static func l2(scikitLearnC c: Double, rows: Int) -> Double { 1 / (c * Double(rows)) }

    /// `x` rounded to the float32 parameters the data term is evaluated at.
    public func parameters(from x: [Double]) -> ModelParameters {
        ModelParameters(classCount: source.classCount, dimension: source.dimension, values: x.map { Float($0) })
    }

    public func evaluate(_ x: [Double]) async throws -> ObjectiveEvaluation {
        precondition(x.count == parameterCount, "SoftmaxObjective.evaluate: \(x.count) values for \(parameterCount) parameters")
        let sums = try await source.evaluate(parameters(from: x))
        // Not a property of the point (a row's gradient is bounded by its weighted features): stop, naming it.
        if sums.status == .outOfRange { throw TrainingError.gradientOutOfRange(rows: sums.rows) }
        let n = Double(source.rowCount)
        let weightCount = source.classCount * source.dimension
        var gradient = sums.gradient
        var penalty = 0.0
        for i in 0 ..< gradient.count {
            gradient[i] /= n
            if i < weightCount {
                penalty += x[i] * x[i]
                gradient[i] += l2 * x[i]
            }
        }
        return ObjectiveEvaluation(value: sums.lossSum / n + 0.5 * l2 * penalty, gradient: gradient)
    }
}
