import Foundation
import TailForgeStorage

/// What a balancing job did, for people (``render()``) and machines (Codable).
public struct BalanceSummary: Sendable, Codable {
    public struct Distribution: Sendable, Codable {
        public var count: Int
        public var min: Double, p10: Double, median: Double, p90: Double, max: Double

        public init?(_ values: [Float]) {
            let v = values.filter { $0.isFinite }.sorted()
            guard !v.isEmpty else { return nil }
            func q(_ p: Double) -> Double { Double(v[Swift.min(v.count - 1, Int((p * Double(v.count - 1)).rounded()))]) }
            count = v.count
            min = Double(v[0]); p10 = q(0.1); median = q(0.5); p90 = q(0.9); max = Double(v[v.count - 1])
        }
    }

    public var classes: Int
    public var emptyClasses: [Int]
    public var dimension: Int
    public var target: Int
    public var inputRows: Int
    public var realRows: Int
    public var syntheticRows: Int
    public var settings: BalanceSettings
    /// κ of the real rows' kernels (after the fallback).
    public var kappa: Distribution?
    /// Classes with a single sample, whose κ is the fallback.
    public var fallbackClasses: [Int]
    public var fallbackKappa: Double?
    /// Mean cosine between a synthetic row and the real row it was drawn around.
    public var meanSyntheticCosine: Double?
    public var inputSHA256: String
    /// SHA-256 of the output file (nil with `--no-digest`).
    public var outputSHA256: String?
    /// SHA-256 of each output dataset's content, computed while writing (see `BalancedContentDigest`).
    public var outputContentSHA256: [String: String]?
    /// What the drift guard did (nil when it was off).
    public var driftGuard: DriftGuardSummary?
    /// `full` or `compact` (``BalancedLayout``); a compact output's synthetic rows are regenerated on reading.
    public var layout: String = BalancedLayout.full.rawValue
    /// The set's identity, the same for both layouts (``BalancedSetIdentity``).
    public var balancedSHA256: String?
    /// Seconds per stage, in run order.
    public var stageSeconds: [String: Double]
    public var stageOrder: [String]

    public func render() -> String {
        var lines: [String] = []
        lines.append("classes           \(classes) (\(emptyClasses.count) empty\(emptyClasses.isEmpty ? "" : ": " + Self.list(emptyClasses)))")
        lines.append("dimension         \(dimension)")
        lines.append("target per class  \(target) (\(settings.target.description))")
        lines.append("rows              \(realRows) real + \(syntheticRows) synthetic = \(realRows + syntheticRows) (input \(inputRows))"
                     + (layout == BalancedLayout.compact.rawValue ? "; compact layout: real rows written, synthetic rows regenerated on reading" : ""))
        lines.append("sampler           \(settings.sampler.rawValue), κ policy \(settings.kappa.description), seed \(settings.seed)")
        if let k = kappa {
            lines.append(String(format: "κ                 min %.4g  p10 %.4g  median %.4g  p90 %.4g  max %.4g  (clamp [%g, %g])",
                                k.min, k.p10, k.median, k.p90, k.max, settings.kappaMin, settings.kappaMax))
        }
        if !fallbackClasses.isEmpty, let f = fallbackKappa {
            lines.append(String(format: "single-sample     %d classes use the fallback κ %.4g (median local κ): %@",
                                fallbackClasses.count, f, Self.list(fallbackClasses)))
        }
        if let c = meanSyntheticCosine {
            lines.append(String(format: "synthetic→seed    mean cosine %.4f", c))
        }
        if let g = driftGuard { lines.append(g.render()) }
        lines.append("input sha256      \(inputSHA256)")
        if let o = outputSHA256 { lines.append("output sha256     \(o)") }
        if let b = balancedSHA256 { lines.append("balanced sha256   \(b)  (the set's identity, both layouts)") }
        if let content = outputContentSHA256 {
            for name in BalancedLayout(rawValue: layout).map({ $0.rowDatasets.all }) ?? BalancedContentDigest.datasetNames {
                if let digest = content[name] { lines.append("content sha256    \(digest)  /\(name)") }
            }
        }
        let total = stageOrder.reduce(0.0) { $0 + (stageSeconds[$1] ?? 0) }
        lines.append("time              " + stageOrder.map { String(format: "%@ %.2fs", $0, stageSeconds[$0] ?? 0) }.joined(separator: ", ")
                     + String(format: "; total %.2fs", total))
        return lines.joined(separator: "\n")
    }

    static func list(_ ids: [Int]) -> String {
        ids.count <= 12 ? ids.map(String.init).joined(separator: ", ")
            : ids.prefix(12).map(String.init).joined(separator: ", ") + ", … (\(ids.count))"
    }
}

/// The drift guard's counts over a job (``DriftGuard``, ``DriftGuardClassReport``).
public struct DriftGuardSummary: Sendable, Codable {
    public var threshold: Double
    public var retries: Int
    /// Draws rejected (each redrawn, or replaced by its seed after the last round), per class id.
    public var rejectedPerClass: [Int]
    /// Synthetic slots holding a copy of their seed row because every round was rejected, per class id.
    public var replacedBySeedPerClass: [Int]
    /// `all` when every class was drawn; `probe` for a compact file, where only the probe class is drawn while
    /// writing (the others are drawn, with the same guard, when the file is read), so the counts cover it alone.
    public var computedFor: String

    public var rejected: Int { rejectedPerClass.reduce(0, +) }
    public var replacedBySeed: Int { replacedBySeedPerClass.reduce(0, +) }

    public init(threshold: Double, retries: Int, perClass: [DriftGuardClassReport?], computedFor: String) {
        self.threshold = threshold
        self.retries = retries
        rejectedPerClass = perClass.map { $0?.rejected ?? 0 }
        replacedBySeedPerClass = perClass.map { $0?.replacedBySeed ?? 0 }
        self.computedFor = computedFor
    }

    func render() -> String {
        func classes(_ counts: [Int]) -> String {
            let hit = counts.indices.filter { counts[$0] > 0 }.sorted { (counts[$0], $1) > (counts[$1], $0) }
            let shown = hit.prefix(8).map { "\($0): \(counts[$0])" }.joined(separator: ", ")
            return hit.isEmpty ? "" : " in \(hit.count) classes (\(shown)\(hit.count > 8 ? ", …" : ""))"
        }
        var lines = [String(format: "drift guard       class posterior ≥ %g, %d redraw rounds", threshold, retries)
                     + (computedFor == "all" ? "" : "; counts for the probe class only (compact: the rest are drawn on reading)")]
        lines.append("  rejected draws  \(rejected)\(classes(rejectedPerClass))")
        lines.append("  seed copies     \(replacedBySeed)\(classes(replacedBySeedPerClass))")
        return lines.joined(separator: "\n")
    }
}
