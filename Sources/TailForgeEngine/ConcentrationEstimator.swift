import TailForgeNumerics

/// Stage 1 of balancing: the vMF concentration κ of every real sample's kernel.
///
/// Deterministic (no random draws), so a cluster can compute it on any worker and ship only the κ values.
public enum ConcentrationEstimator {
    /// κ for each row of `classRows` (unit-norm rows of one class), clamped to the settings' bounds.
    /// Rows whose κ cannot be estimated (a class with a single sample under `local` or `class`) get NaN;
    /// the caller replaces them with ``fallbackKappa(_:)`` computed over all classes.
    public static func concentrations(classRows: Matrix, settings: BalanceSettings) -> [Float] {
        let n = classRows.rows
        let d = classRows.columns
        guard n > 0 else { return [] }
        switch settings.kappa {
        case .fixed(let value):
            return [Float](repeating: Float(clamp(value, settings)), count: n)
        case .classwise:
            guard n > 1 else { return [.nan] }
            var sum = [Double](repeating: 0, count: d)
            classRows.storage.withUnsafeBufferPointer { rows in
                for i in 0..<n {
                    let base = i * d
                    for j in 0..<d { sum[j] += Double(rows[base + j]) }
                }
            }
            let resultant = sum.reduce(0) { $0 + $1 * $1 }.squareRoot() / Double(n)
            let kappa = clamp(BanerjeeConcentration.kappa(meanResultantLength: min(resultant, 1), dimension: d), settings)
            return [Float](repeating: Float(kappa), count: n)
        case .local:
            guard n > 1 else { return [.nan] }
            // GEMM only chooses the neighbour. r = ‖x + y‖/2 is then recomputed in Double in a fixed order, so
            // κ does not depend on which BLAS kernel (and so which rounding) the machine runs: the output
            // stays bit-identical across machines unless two neighbours tie to the last bit.
            let neighbours = NearestNeighbours.search(classRows, k: 1)
            return classRows.storage.withUnsafeBufferPointer { rows in
                (0..<n).map { i in
                    let j = Int(neighbours.indices[i * neighbours.k])
                    var sum = 0.0
                    for t in 0..<d {
                        let v = Double(rows[i * d + t]) + Double(rows[j * d + t])
                        sum += v * v
                    }
                    let r = min(sum.squareRoot() / 2, 1)
                    return Float(clamp(BanerjeeConcentration.kappa(meanResultantLength: r, dimension: d), settings))
                }
            }
        }
    }

    /// The κ used where none could be estimated: the median of every finite κ of every class.
    /// Returns nil when there is none (every class has a single sample).
    public static func fallbackKappa<S: Sequence>(_ allKappas: S) -> Float? where S.Element == Float {
        var finite = allKappas.filter { $0.isFinite }
        guard !finite.isEmpty else { return nil }
        let mid = finite.count / 2
        // Partial selection would do; the κ arrays are at most a few hundred thousand floats, sorted once per job.
        finite.sort()
        return finite.count % 2 == 1 ? finite[mid] : Float((Double(finite[mid - 1]) + Double(finite[mid])) / 2)
    }

    static func clamp(_ kappa: Double, _ settings: BalanceSettings) -> Double {
        // NaN cannot arise from a clamped cosine; +∞ (exact duplicates) lands on kappaMax.
        min(max(kappa, settings.kappaMin), settings.kappaMax)
    }
}

extension ConcentrationEstimator {
    /// Replaces NaN κ (single-sample classes) by the fallback, the median of all finite κ of all classes.
    ///
    /// - Returns: the fallback (nil when no κ at all is finite) and the classes that needed it.
    /// - Throws: when some class needs the fallback but there is none.
    public static func applyFallback(_ perClass: inout [[Float]], file: String) throws(BalanceError) -> (fallback: Float?, classes: [Int]) {
        let fallback = fallbackKappa(perClass.joined())
        var needing: [Int] = []
        for c in perClass.indices where perClass[c].contains(where: { !$0.isFinite }) {
            guard let fallback else { throw .noKappaEstimable(file: file) }
            needing.append(c)
            perClass[c] = perClass[c].map { $0.isFinite ? $0 : fallback }
        }
        return (fallback, needing)
    }
}
