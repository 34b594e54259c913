import TailForgeNumerics

/// A kernel that draws synthetic rows for one class around its real rows (the kernel centres). One per
/// `SamplerKind`, all behind this interface so ablations swap only the kernel; choosing the centre and the
/// bookkeeping are shared (``draw(count:kappas:into:centreIndex:kappaUsed:using:)``).
protocol SyntheticSampler {
    /// The class's unit-norm real rows.
    var centres: Matrix { get }

    /// Writes one unit-norm row drawn around row `centre` of ``centres`` into `dest` — every value of it, whatever
    /// `dest` held before; returns the κ to record.
    func drawOne(centre: Int, kappa: Float, into dest: UnsafeMutableBufferPointer<Float>, using rng: inout ClassRandomStream) -> Float
}

extension SyntheticSampler {
    /// Writes rows `firstRow ..< firstRow + count` of `out` (which holds at least those rows), each around a centre
    /// chosen uniformly, recording the centre's local index and the κ used. `kappas` are the centres' κ (finite).
    /// Every value of those rows is written (``drawOne(centre:kappa:into:using:)`` fills its whole row), so what
    /// `out` held there — a recycled block's old rows — does not matter and is not cleared first.
    func draw(
        count: Int, firstRow: Int, kappas: [Float], into out: inout [Float],
        centreIndex: inout [Int32], kappaUsed: inout [Float], using rng: inout ClassRandomStream
    ) {
        let d = centres.columns
        let start = firstRow * d
        precondition(out.count >= start + count * d, "draw: rows \(firstRow)..<\(firstRow + count) do not fit in \(out.count / d) rows")
        out.withUnsafeMutableBufferPointer { o in
            for s in 0..<count {
                let centre = uniformIndex(below: centres.rows, using: &rng)
                let dest = UnsafeMutableBufferPointer(rebasing: o[start + s * d ..< start + (s + 1) * d])
                kappaUsed.append(drawOne(centre: centre, kappa: kappas[centre], into: dest, using: &rng))
                centreIndex.append(Int32(centre))
            }
        }
    }
}

extension SamplerKind {
    /// The kernel for one class's centres with their κ, or nil for `.none`.
    func makeSampler(centres: Matrix, kappas: [Float], settings: BalanceSettings) -> (any SyntheticSampler)? {
        switch self {
        case .vmf: VMFKernelSampler(centres: centres, kappas: kappas)
        case .gaussian: GaussianKernelSampler(centres: centres)
        case .smote: SMOTESampler(centres: centres, neighbours: settings.smoteNeighbours)
        case .none: nil
        }
    }
}

/// Scales `row` to unit length in place, in Double; returns false when it is (numerically) zero.
@inlinable
func normalizeInPlace(_ row: UnsafeMutableBufferPointer<Float>) -> Bool {
    var sum = 0.0
    for x in row { sum += Double(x) * Double(x) }
    let norm = sum.squareRoot()
    guard norm > 1e-12, norm.isFinite else { return false }
    let inv = 1 / norm
    for j in row.indices { row[j] = Float(Double(row[j]) * inv) }
    return true
}
