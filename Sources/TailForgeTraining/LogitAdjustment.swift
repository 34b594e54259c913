import Foundation

/// Post-hoc logit adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021): class `c`
/// is scored `logit_c − τ·log π_c`, `π` the long-tailed class prior of the real training rows. τ = 0 is the
/// raw model; τ = 1 is the Bayes correction from the training prior to a uniform one for a model that learnt
/// the training prior (an unweighted fit); a balanced or class-weighted fit has already removed most of the
/// prior, so its best τ is nearer 0. ``LogitAdjustmentCalibrator`` chooses τ on held-out real rows.
public struct LogitAdjustment: Sendable, Equatable {
    public let tau: Double
    /// One probability per class, all positive, summing to 1.
    public let prior: [Double]

    public init(tau: Double, prior: [Double]) throws(TrainingError) {
        guard tau.isFinite, tau >= 0 else {
            throw .invalidSetting(name: "logit adjustment τ", value: "\(tau)", expected: "finite and non-negative")
        }
        guard !prior.isEmpty, prior.allSatisfy({ $0.isFinite && $0 > 0 }),
              abs(prior.reduce(0, +) - 1) < 1e-6 else {
            throw .invalidSetting(name: "class prior", value: "\(prior.count) values summing to \(prior.reduce(0, +))",
                                  expected: "positive probabilities summing to 1")
        }
        self.tau = tau
        self.prior = prior
    }

    /// The prior of real-row counts per class. A class without real rows is counted as one row, so its
    /// log-prior stays finite (such a class cannot be learnt anyway; the choice only bounds its boost).
    public static func prior(classCounts: [Int]) -> [Double] {
        let counts = classCounts.map { Double(max($0, 1)) }
        let total = counts.reduce(0, +)
        return counts.map { $0 / total }
    }

    /// `−τ·log π_c` per class: what is added to each logit.
    public var offsets: [Float] { prior.map { Float(-tau * Foundation.log($0)) } }

    /// The model whose biases carry the adjustment, so its argmax and softmax are the adjusted ones.
    public func adjusting(_ model: SoftmaxModel) throws(TrainingError) -> SoftmaxModel {
        guard prior.count == model.classCount else {
            throw .invalidSetting(name: "class prior", value: "\(prior.count) classes", expected: "one value per model class (\(model.classCount))")
        }
        let offsets = self.offsets
        return SoftmaxModel(classCount: model.classCount, dimension: model.dimension, weights: model.weights,
                            bias: zip(model.bias, offsets).map { $0 + $1 })
    }
}
