import TailForgeNumerics

/// Draws synthetic rows for one class around its real rows (the kernel centres). One per `SamplerKind`, all
/// behind this interface so ablations swap only the kernel.
protocol SyntheticSampler {
    /// Appends `count` unit-norm rows to `out`, recording for each the local index of its centre and the κ used.
    /// `centres` are the class's unit-norm real rows; `kappas` their κ (finite).
    func draw(
        count: Int, centres: Matrix, kappas: [Float], into out: inout [Float],
        centreIndex: inout [Int32], kappaUsed: inout [Float], using rng: inout ClassRandomStream
    )
}

extension SamplerKind {
    func makeSampler(dimension: Int, settings: BalanceSettings) -> (any SyntheticSampler)? {
        switch self {
        case .vmf: VMFKernelSampler(dimension: dimension)
        case .gaussian: GaussianKernelSampler(dimension: dimension)
        case .smote: SMOTESampler(neighbours: settings.smoteNeighbours)
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
