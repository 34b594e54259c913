import Foundation

/// Per-class training-set sizes of the long-tailed benchmarks, so generated data has their real shapes.
public enum LongTailProfile {
    /// CIFAR-100-LT / CIFAR-10-LT style: n_i = ⌊n_max · (1/IR)^(i/(C−1))⌋.
    ///
    /// `pow` in binary can land a hair below an exact integer (500 · 0.01 = 4.999…), which floors to one too few;
    /// the relative nudge of 1e-9 restores the exact ends (500 and 5) without changing any other count.
    public static func exponential(classes: Int, maxCount: Int, imbalanceRatio: Double) -> [Int] {
        guard classes > 1 else { return [maxCount] }
        return (0..<classes).map { i in
            let x = Double(maxCount) * pow(1 / imbalanceRatio, Double(i) / Double(classes - 1))
            return Int((x * (1 + 1e-9)).rounded(.down))
        }
    }

    /// CIFAR-100-LT at imbalance ratio 100: 100 classes, 500 → 5, 10,847 rows.
    public static let cifar100LT = exponential(classes: 100, maxCount: 500, imbalanceRatio: 100)

    /// Places-LT's shape: 365 classes, 62,500 rows, 4,980 → 5, with the real split's many/medium/few counts
    /// (131 classes > 100, 163 in 20…100, 71 < 20).
    ///
    /// A pure exponential through (0, 4980) and (364, 5) sums to ≈ 263k, so the head is a power law that drops
    /// fast and the medium and few-shot segments are geometric; the head's shape parameter is solved so the
    /// total is exact.
    public static let placesLT: [Int] = {
        let medium = geometric(from: 100, to: 20, count: 163)
        let few = geometric(from: 19, to: 5, count: 71)
        let headTotal = 62_500 - medium.reduce(0, +) - few.reduce(0, +)
        // head(i) = 101 + (4980 − 101) · (1 − i/130)^p: p solved by bisection so the head sums to headTotal.
        func head(_ p: Double) -> [Int] {
            (0..<131).map { i in 101 + Int((4879 * pow(1 - Double(i) / 130, p)).rounded(.down)) }
        }
        var lo = 1.0, hi = 200.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if head(mid).reduce(0, +) > headTotal { lo = mid } else { hi = mid }
        }
        var h = head(hi)
        // The floors leave a residual of a few rows: spread it over the head (still non-increasing).
        var residual = headTotal - h.reduce(0, +)
        var i = 1
        while residual != 0 {
            let step = residual > 0 ? 1 : -1
            h[i] += step
            residual -= step
            i = i % 129 + 1
        }
        return h + medium + few
    }()

    /// `count` values falling geometrically from `from` to `to`, both ends exact.
    static func geometric(from: Int, to: Int, count: Int) -> [Int] {
        (0..<count).map { i in
            let x = Double(from) * pow(Double(to) / Double(from), Double(i) / Double(count - 1))
            return Int((x * (1 + 1e-9)).rounded(.down))
        }
    }
}
