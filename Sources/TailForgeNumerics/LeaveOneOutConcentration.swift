#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The vMF-KDE concentration that maximises the leave-one-out likelihood of a set of unit rows: the standard
/// bandwidth choice for a kernel density estimate, here with one κ shared by every kernel of the set.
///
/// With kernels vMF(x_j, κ) the leave-one-out log-likelihood is L(κ) = Σ_q [log C_d(κ) + log Σ_{j≠q} exp(κ x_qᵀx_j)]
/// (up to a constant), and since d/dκ log C_d(κ) = −A_d(κ), its derivative is
/// L′(κ) = Σ_q (Σ_j w_qj x_qᵀx_j − A_d(κ)) with w_q· the softmax of κ x_qᵀx_·. Only the Bessel *ratio* A_d is
/// needed (``BesselRatio``, a continued fraction that does not underflow in high dimension), never the
/// normaliser itself: maxima are found as sign changes of L′ on a log-spaced grid over the allowed range,
/// the best one chosen by integrating L′ between them, and refined by bisection.
///
/// What it estimates: for a single vMF(μ, κ) class in high dimension with n ≪ eᵈ members, two members differ
/// by about twice the spread a member has around μ, so the LOO kernel comes out near κ/2 (measured at d = 768,
/// κ = 500 and 2,000, n = 20…500: 0.50–0.58 κ; the nearest-neighbour weighting pulls it up slowly with n).
/// A kernel that wide is what makes a KDE of a few points cover the class: it is a bandwidth, not κ itself.
public enum LeaveOneOutConcentration {
    /// At most this many rows are left out in turn (a deterministic, evenly spaced subset of larger sets);
    /// every row stays a kernel centre. Keeps the cost at 1,000·n cosines per evaluation.
    public static let maximumQueries = 1_000

    /// Grid points over the allowed range (≈ 1.34× apart over 1…1e6) before refinement.
    static let gridPoints = 48

    /// The LOO-optimal κ of `rows` (unit-norm, at least 2), within `range`; the ends of the range when L keeps
    /// rising (or falling) across it.
    ///
    /// Cosines come from one single-precision GEMM, so the last bits may depend on the BLAS kernel; the result
    /// is rounded to 4 significant digits, so that machines with different kernels write the same κ (except
    /// when a value lands on a rounding boundary).
    public static func kappa(rows: Matrix, range: ClosedRange<Double>) -> Double {
        let n = rows.rows, d = rows.columns
        precondition(n >= 2, "leave-one-out κ needs at least 2 rows, got \(n)")
        let queries = n <= maximumQueries ? Array(0..<n) : (0..<maximumQueries).map { $0 * n / maximumQueries }
        let cosines = BLAS.sgemm(rows.gatherRows(queries), rows, transposeB: true)
        let objective = Objective(cosines: cosines, queries: queries, dimension: d)

        let lo = log(range.lowerBound), hi = log(range.upperBound)
        guard hi > lo else { return range.lowerBound }
        let u = (0..<gridPoints).map { lo + (hi - lo) * Double($0) / Double(gridPoints - 1) }
        let slope = u.map { objective.slope(kappa: exp($0)) }
        // L at each grid point relative to the first, by the trapezoid rule on dL/du = κ·L′(κ).
        var level = [0.0]
        for k in 1..<gridPoints {
            let step = (u[k] - u[k - 1]) * (exp(u[k]) * slope[k] + exp(u[k - 1]) * slope[k - 1]) / 2
            level.append(level[k - 1] + step)
        }
        // Candidates: the ends (when L′ points out of the range there) and every + → − sign change.
        var best = (level: -Double.infinity, lower: lo, upper: lo)
        if slope[0] <= 0 { best = (level[0], lo, lo) }
        for k in 1..<gridPoints where slope[k - 1] > 0 && slope[k] <= 0 && level[k] > best.level {
            best = (max(level[k], level[k - 1]), u[k - 1], u[k])
        }
        if slope[gridPoints - 1] > 0 && level[gridPoints - 1] > best.level { best = (level[gridPoints - 1], hi, hi) }

        var (a, b) = (best.lower, best.upper)
        // 20 halvings of a grid step (0.29 in log κ) leave 3e-7, far below the 4-digit rounding (5e-5).
        for _ in 0..<20 {
            let mid = (a + b) / 2
            if objective.slope(kappa: exp(mid)) > 0 { a = mid } else { b = mid }
        }
        return min(max(roundedToSignificantDigits(exp((a + b) / 2), 4), range.lowerBound), range.upperBound)
    }

    static func roundedToSignificantDigits(_ x: Double, _ digits: Int) -> Double {
        guard x > 0, x.isFinite else { return x }
        let scale = pow(10, Double(digits - 1) - floor(log10(x)))
        return (x * scale).rounded() / scale
    }

    /// L′(κ)/|Q| for the cosines of the left-out rows (rows of `cosines`) against every centre (columns).
    struct Objective {
        let cosines: Matrix
        let queries: [Int]
        let dimension: Int

        func slope(kappa: Double) -> Double {
            let n = cosines.columns
            var total = 0.0
            cosines.storage.withUnsafeBufferPointer { c in
                for (q, own) in queries.enumerated() {
                    let row = q * n
                    var largest = -Double.infinity
                    for j in 0..<n where j != own { largest = max(largest, Double(c[row + j])) }
                    // Softmax weights relative to the largest cosine, so no exponential overflows.
                    var weights = 0.0, weighted = 0.0
                    for j in 0..<n where j != own {
                        let cosine = Double(c[row + j])
                        let w = exp(kappa * (cosine - largest))
                        weights += w
                        weighted += w * cosine
                    }
                    total += weighted / weights
                }
            }
            return total / Double(queries.count) - BesselRatio.meanCosine(kappa: kappa, dimension: dimension)
        }
    }
}
