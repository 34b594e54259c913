/// The parameters of a softmax model as one flat float32 vector: the weights `[classCount × dimension]`
/// row-major, then the biases `[classCount]`.
///
/// This is the vector a gradient source receives each evaluation (and what a remote worker receives over the
/// wire, as raw float32); the gradient in ``LossAndGradient`` uses the same layout.
public struct ModelParameters: Sendable, Equatable {
    public let classCount: Int
    public let dimension: Int
    /// `classCount * dimension` weights (row `c` is class `c`), then `classCount` biases.
    public var values: [Float]

    public init(classCount: Int, dimension: Int, values: [Float]) {
        precondition(classCount > 0 && dimension > 0, "ModelParameters needs at least one class and one dimension")
        precondition(values.count == classCount * (dimension + 1), "ModelParameters: \(values.count) values for \(classCount) classes × (\(dimension) + 1)")
        self.classCount = classCount
        self.dimension = dimension
        self.values = values
    }

    /// All-zero parameters (uniform predictions): the usual starting point.
    public static func zeros(classCount: Int, dimension: Int) -> ModelParameters {
        ModelParameters(classCount: classCount, dimension: dimension,
                        values: [Float](repeating: 0, count: classCount * (dimension + 1)))
    }

    /// Number of values, `classCount * (dimension + 1)`.
    public var count: Int { values.count }

    /// Offset of the first bias in ``values``.
    public var biasOffset: Int { classCount * dimension }

    public var weights: ArraySlice<Float> { values[0 ..< biasOffset] }
    public var bias: ArraySlice<Float> { values[biasOffset...] }
}
