/// The summed loss and gradient of a set of rows, held in fixed point so that adding partial results is exact.
///
/// Every block of rows is computed in float32/float64 as usual, then its loss and gradient are rounded once to
/// multiples of 2⁻³² and added as 128-bit integers. Integer addition is associative, so the total does not
/// depend on the order or grouping in which blocks, threads, shards or remote workers are combined: the same
/// blocks always give the same bits. The rounding (≤ 2⁻³³ per block and entry) is far below the float32
/// rounding already present in each block's GEMM (≈ 10⁻⁷ relative).
///
/// Layout of ``gradient``: the weight gradient `[classCount × dimension]` row-major, then the bias gradient
/// `[classCount]` (the layout of ``ModelParameters``). Both are plain sums over rows (weighted by the sample
/// and class weights); normalisation and the L2 term are applied by ``SoftmaxObjective``.
public struct LossAndGradient: Sendable, Equatable {
    /// Fixed-point scale: a value `v` is stored as `round(v · 2³²)`.
    public static let fixedPointScale: Double = 0x1p32

    public let classCount: Int
    public let dimension: Int
    /// Number of rows summed.
    public private(set) var rows: Int
    /// `false` when some block produced a NaN/infinite or overflowing value; the loss then reads as +∞.
    public private(set) var isFinite: Bool
    /// The loss sum in fixed point (units of 2⁻³²); exposed for exact transport between processes.
    public private(set) var fixedPointLoss: Int128
    /// The gradient sums in fixed point (units of 2⁻³²), layout as ``gradient``.
    public private(set) var fixedPointGradient: [Int128]

    /// A zero sum (no rows).
    public init(classCount: Int, dimension: Int) {
        self.classCount = classCount
        self.dimension = dimension
        self.rows = 0
        self.isFinite = true
        self.fixedPointLoss = 0
        self.fixedPointGradient = [Int128](repeating: 0, count: classCount * (dimension + 1))
    }

    /// Rebuilds a sum from its exact parts (for example after receiving them from a remote worker).
    public init(classCount: Int, dimension: Int, rows: Int, isFinite: Bool, fixedPointLoss: Int128, fixedPointGradient: [Int128]) {
        precondition(fixedPointGradient.count == classCount * (dimension + 1), "LossAndGradient: gradient has the wrong length")
        self.classCount = classCount
        self.dimension = dimension
        self.rows = rows
        self.isFinite = isFinite
        self.fixedPointLoss = fixedPointLoss
        self.fixedPointGradient = fixedPointGradient
    }

    /// Σ rows weight · cross-entropy, or +∞ when not finite.
    public var lossSum: Double {
        isFinite ? Double(fixedPointLoss) / Self.fixedPointScale : .infinity
    }

    /// Σ rows weight · ∂cross-entropy/∂parameters, in the layout of ``ModelParameters``.
    public var gradient: [Double] {
        fixedPointGradient.map { Double($0) / Self.fixedPointScale }
    }

    /// Adds another partial sum (exactly; order does not matter).
    public mutating func add(_ other: LossAndGradient) {
        precondition(other.classCount == classCount && other.dimension == dimension, "LossAndGradient.add: shapes differ")
        rows += other.rows
        isFinite = isFinite && other.isFinite
        fixedPointLoss &+= other.fixedPointLoss
        fixedPointGradient.withUnsafeMutableBufferPointer { mine in
            other.fixedPointGradient.withUnsafeBufferPointer { theirs in
                for i in mine.indices { mine[i] &+= theirs[i] }
            }
        }
    }

    public static func + (lhs: LossAndGradient, rhs: LossAndGradient) -> LossAndGradient {
        var sum = lhs
        sum.add(rhs)
        return sum
    }

    /// Adds one block's results: its loss, its float32 weight gradient `[classCount × dimension]` and its
    /// float64 bias gradient `[classCount]`.
    mutating func addBlock(rows blockRows: Int, loss: Double, weightGradient: UnsafeBufferPointer<Float>, biasGradient: UnsafeBufferPointer<Double>) {
        rows += blockRows
        var finite = isFinite
        if let l = Self.toFixedPoint(loss) { fixedPointLoss &+= l } else { finite = false }
        let biasOffset = classCount * dimension
        fixedPointGradient.withUnsafeMutableBufferPointer { acc in
            for i in 0 ..< biasOffset {
                let scaled = (Double(weightGradient[i]) * Self.fixedPointScale).rounded()
                // Fast path: |scaled| < 2^62 converts through Int64; anything else (huge or non-finite) is rare.
                if scaled.magnitude < 0x1p62 {
                    acc[i] &+= Int128(Int64(scaled))
                } else if let v = Self.toFixedPoint(Double(weightGradient[i])) {
                    acc[i] &+= v
                } else {
                    finite = false
                }
            }
            for c in 0 ..< classCount {
                if let v = Self.toFixedPoint(biasGradient[c]) { acc[biasOffset + c] &+= v } else { finite = false }
            }
        }
        isFinite = finite
    }

    /// `round(v · 2³²)` as an Int128, or nil when `v` is not finite or too large to add safely (|v| ≥ 2⁹⁰).
    static func toFixedPoint(_ v: Double) -> Int128? {
        let scaled = (v * fixedPointScale).rounded()
        guard scaled.isFinite, scaled.magnitude < 0x1p122 else { return nil }
        return Int128(scaled)
    }
}
