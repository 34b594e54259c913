/// The summed loss and gradient of a set of rows, held in fixed point so that adding partial results is exact.
///
/// Every block of rows is computed in float32/float64 as usual, then its loss and gradient are rounded once to
/// multiples of 2⁻³² and added as 128-bit integers. Integer addition is associative, so the total does not
/// depend on the order or grouping in which blocks, threads, shards or remote workers are combined: the same
/// blocks always give the same bits. The rounding (≤ 2⁻³³ per block and entry) is far below the float32
/// rounding already present in each block's GEMM (≈ 10⁻⁷ relative).
///
/// ## Range
/// A block may contribute at most ``blockMagnitudeLimit`` (2⁵⁵ ≈ 3.6·10¹⁶) to any entry, and a sum covers at
/// most ``maxRows`` (2⁴⁰) rows, so no sum of blocks, grouped in any way, can leave the Int128 range
/// (2⁴⁰ · 2⁵⁵ · 2³² = 2¹²⁷): the sums are exact or, when a block is beyond the limit, marked
/// ``Status-swift.enum/outOfRange`` — a verdict that depends on each block alone, never on the order of the
/// additions. Every addition is still checked, so a malformed partial received from elsewhere is caught too.
///
/// Layout of ``gradient``: the weight gradient `[classCount × dimension]` row-major, then the bias gradient
/// `[classCount]` (the layout of ``ModelParameters``). Both are plain sums over rows (weighted by the sample
/// and class weights); normalisation and the L2 term are applied by ``SoftmaxObjective``.
public struct LossAndGradient: Sendable, Equatable {
    /// Fixed-point scale: a value `v` is stored as `round(v · 2³²)`.
    public static let fixedPointScale: Double = 0x1p32
    /// The largest magnitude one block may add to the loss or to a gradient entry.
    public static let blockMagnitudeLimit: Double = 0x1p55
    /// The most rows one sum may cover.
    public static let maxRows = 1 << 40

    /// Whether the sums can be used.
    public enum Status: UInt8, Sendable {
        /// A block's loss was NaN, infinite or beyond the range: the parameters are too far out (the line
        /// search shortens its step). The loss reads as +∞.
        case nonFinite = 0
        /// Every block was in range: the sums are exact.
        case exact = 1
        /// A block's loss was finite but its gradient was not, or beyond ``blockMagnitudeLimit``: the gradient
        /// of a row is bounded by its weighted feature values, whatever the parameters, so the data (or the
        /// sample and class weights) are too large to sum exactly. Training must stop.
        case outOfRange = 2

        /// Combining two partial sums: the worse status wins (a commutative, associative choice).
        func combined(with other: Status) -> Status {
            func rank(_ s: Status) -> Int { s == .exact ? 0 : s == .nonFinite ? 1 : 2 }
            return rank(self) >= rank(other) ? self : other
        }
    }

    public let classCount: Int
    public let dimension: Int
    /// Number of rows summed.
    public private(set) var rows: Int
    public private(set) var status: Status
    /// `true` when the sums are exact and usable; the loss then reads as a number, otherwise as +∞.
    public var isFinite: Bool { status == .exact }
    /// The loss sum in fixed point (units of 2⁻³²); exposed for exact transport between processes.
    public private(set) var fixedPointLoss: Int128
    /// The gradient sums in fixed point (units of 2⁻³²), layout as ``gradient``.
    public private(set) var fixedPointGradient: [Int128]

    /// A zero sum (no rows).
    public init(classCount: Int, dimension: Int) {
        self.classCount = classCount
        self.dimension = dimension
        self.rows = 0
        self.status = .exact
        self.fixedPointLoss = 0
        self.fixedPointGradient = [Int128](repeating: 0, count: classCount * (dimension + 1))
    }

    /// Rebuilds a sum from its exact parts (for example after receiving them from a remote worker).
    public init(classCount: Int, dimension: Int, rows: Int, status: Status, fixedPointLoss: Int128, fixedPointGradient: [Int128]) {
        precondition(fixedPointGradient.count == classCount * (dimension + 1), "LossAndGradient: gradient has the wrong length")
        self.classCount = classCount
        self.dimension = dimension
        self.rows = rows
        self.status = status
        self.fixedPointLoss = fixedPointLoss
        self.fixedPointGradient = fixedPointGradient
    }

    /// Rebuilds a sum from its exact parts; `isFinite: false` means ``Status-swift.enum/nonFinite``.
    public init(classCount: Int, dimension: Int, rows: Int, isFinite: Bool, fixedPointLoss: Int128, fixedPointGradient: [Int128]) {
        self.init(classCount: classCount, dimension: dimension, rows: rows, status: isFinite ? .exact : .nonFinite,
                  fixedPointLoss: fixedPointLoss, fixedPointGradient: fixedPointGradient)
    }

    /// Σ rows weight · cross-entropy, or +∞ when not exact.
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
        let (total, rowsOverflow) = rows.addingReportingOverflow(other.rows)
        rows = rowsOverflow ? .max : total
        var result = status.combined(with: other.status)
        if rowsOverflow || rows > Self.maxRows { result = .outOfRange }
        var overflow = false
        (fixedPointLoss, overflow) = fixedPointLoss.addingReportingOverflow(other.fixedPointLoss)
        fixedPointGradient.withUnsafeMutableBufferPointer { mine in
            other.fixedPointGradient.withUnsafeBufferPointer { theirs in
                for i in mine.indices {
                    let (sum, o) = mine[i].addingReportingOverflow(theirs[i])
                    mine[i] = sum
                    overflow = overflow || o
                }
            }
        }
        // Unreachable for partials built by `addBlock` (see Range); a malformed received partial lands here.
        if overflow { result = .outOfRange }
        status = result
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
        var blockStatus = Status.exact
        var overflow = rows > Self.maxRows
        if let l = Self.toFixedPoint(loss) {
            let (sum, o) = fixedPointLoss.addingReportingOverflow(l)
            fixedPointLoss = sum
            overflow = overflow || o
        } else {
            blockStatus = .nonFinite
        }
        let biasOffset = classCount * dimension
        let limit = Self.blockMagnitudeLimit * Self.fixedPointScale
        var inRange = true
        fixedPointGradient.withUnsafeMutableBufferPointer { acc in
            func accumulate(_ i: Int, _ v: Int128) {
                let (sum, o) = acc[i].addingReportingOverflow(v)
                acc[i] = sum
                overflow = overflow || o
            }
            for i in 0 ..< biasOffset {
                let scaled = (Double(weightGradient[i]) * Self.fixedPointScale).rounded()
                // Fast path: |scaled| < 2^62 converts through Int64; anything else (huge or non-finite) is rare.
                if scaled.magnitude < 0x1p62 {
                    accumulate(i, Int128(Int64(scaled)))
                } else if scaled.magnitude < limit {
                    accumulate(i, Int128(scaled))
                } else {
                    inRange = false
                }
            }
            for c in 0 ..< classCount {
                if let v = Self.toFixedPoint(biasGradient[c]) { accumulate(biasOffset + c, v) } else { inRange = false }
            }
        }
        // A finite loss means finite logits, so an out-of-range gradient comes from the data, not the point.
        if !inRange, blockStatus == .exact { blockStatus = .outOfRange }
        // Unreachable within `maxRows` rows (see Range), checked all the same.
        if overflow { blockStatus = .outOfRange }
        status = status.combined(with: blockStatus)
    }

    /// `round(v · 2³²)` as an Int128, or nil when `v` is not finite or not below ``blockMagnitudeLimit``.
    static func toFixedPoint(_ v: Double) -> Int128? {
        let scaled = (v * fixedPointScale).rounded()
        guard scaled.isFinite, scaled.magnitude < blockMagnitudeLimit * fixedPointScale else { return nil }
        return Int128(scaled)
    }
}
