/// How much each class's rows count in the loss.
public enum ClassWeighting: Sendable, Equatable, Codable {
    /// Every row counts once.
    case none
    /// Class `c` gets weight `N / (C · n_c)` (scikit-learn's `class_weight="balanced"`); a class with no rows
    /// gets weight 0.
    case balanced
    /// One explicit weight per class.
    case custom([Float])

    /// The weight of each class given the number of rows per class, or nil for `.none`.
    public func weights(classCounts: [Int]) throws(TrainingError) -> [Float]? {
        switch self {
        case .none:
            return nil
        case .balanced:
            let total = Double(classCounts.reduce(0, +))
            let classes = Double(classCounts.count)
            return classCounts.map { $0 == 0 ? 0 : Float(total / (classes * Double($0))) }
        case .custom(let weights):
            guard weights.count == classCounts.count else {
                throw .invalidClassWeights("\(weights.count) weights given for \(classCounts.count) classes")
            }
            if let bad = weights.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
                throw .invalidClassWeights("class \(bad) has weight \(weights[bad]); weights must be finite and non-negative")
            }
            return weights
        }
    }

    /// The string form used on the command line and in model files: `none`, `balanced`.
    public var name: String {
        switch self {
        case .none: "none"
        case .balanced: "balanced"
        case .custom: "custom"
        }
    }
}
