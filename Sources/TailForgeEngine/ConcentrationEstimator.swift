import Foundation
import TailForgeNumerics

/// Stage 1 of balancing: the vMF concentration κ of every real sample's kernel.
///
/// Deterministic (no random draws), so a cluster can compute it on any worker and ship only the κ values.
public enum ConcentrationEstimator {
    /// κ for each row of `classRows` (unit-norm rows of one class), clamped to the settings' bounds.
    /// Rows whose κ cannot be estimated (a class with a single sample under `local`, `class` or `loo`) get NaN;
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
        case .leaveOneOut:
            // The raw per-class value; small classes are shrunk toward the pooled one across classes afterwards.
            guard n > 1 else { return [.nan] }
            let kappa = LeaveOneOutConcentration.kappa(rows: classRows, range: settings.kappaMin...settings.kappaMax)
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
    /// Classes with at least this many real rows estimate the pooled leave-one-out κ.
    public static let pooledLeaveOneOutMinimumRows = 20
    /// The pooled value's weight in the shrinkage, in real rows (see ``shrinkLeaveOneOut(_:)``).
    public static let leaveOneOutPriorRows = 10.0

    /// The cross-class step of `--kappa loo`. A class of n real rows estimates its LOO κ̂ from n(n−1) pairs,
    /// which is noisy for small n, so it is shrunk toward the pooled κ_pool — the median κ̂ of the classes with
    /// at least ``pooledLeaveOneOutMinimumRows`` rows (of all estimable classes when none is that large) — in
    /// log space, with the pooled value counting as ``leaveOneOutPriorRows`` rows:
    /// log κ = (n·log κ̂ + 10·log κ_pool)/(n + 10). A 5-row class moves two thirds of the way to κ_pool, a
    /// 100-row class 9 %. Single-row classes (no pair to leave out) are left NaN for the fallback, which then is
    /// the median over all rows' κ.
    public static func shrinkLeaveOneOut(_ perClass: inout [[Float]]) {
        let estimated = perClass.indices.filter { perClass[$0].first?.isFinite == true }
        let large = estimated.filter { perClass[$0].count >= pooledLeaveOneOutMinimumRows }
        guard let pooled = fallbackKappa((large.isEmpty ? estimated : large).map { perClass[$0][0] }) else { return }
        for c in estimated {
            let n = Double(perClass[c].count)
            let shrunk = exp((n * log(Double(perClass[c][0])) + leaveOneOutPriorRows * log(Double(pooled))) / (n + leaveOneOutPriorRows))
            perClass[c] = [Float](repeating: Float(shrunk), count: perClass[c].count)
        }
    }

    /// Replaces NaN κ (single-sample classes) by the fallback, the median of all finite κ of all classes,
    /// after the leave-one-out shrinkage when `policy` is `loo`.
    ///
    /// - Returns: the fallback (nil when no κ at all is finite) and the classes that needed it.
    /// - Throws: when some class needs the fallback but there is none.
    public static func applyFallback(_ perClass: inout [[Float]], policy: KappaPolicy, file: String) throws(BalanceError) -> (fallback: Float?, classes: [Int]) {
        if policy == .leaveOneOut { shrinkLeaveOneOut(&perClass) }
        return try applyFallback(&perClass, file: file)
    }

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
