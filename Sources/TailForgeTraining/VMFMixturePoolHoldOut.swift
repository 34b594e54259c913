import Foundation
import TailForgeNumerics

/// The held-out balanced accuracy of `ablate`'s semi-supervised mixture recipes (`vmf-mixture-pool`,
/// `vmf-mixture-transductive`), measured without the test file's labels.
///
/// Their model is the cross-validated mixture refined by EM over a pool, so the out-of-fold score of the
/// cross-validation (the plain mixture's held-out column) says nothing about what the pool adds. Instead:
///
/// 1. a stratified part of the training file's distinct real rows is held out — per class with n ≥ 2 rows,
///    round(fraction·n) clamped to 1…n − 1, the draw of `train --calibrate`
///    (``CalibrationHoldOut/heldOutPositions(realCounts:fraction:seed:)``);
/// 2. the mixture is fitted on the rest with the K_max and κ₀ the recipe's cross-validation chose, and the recipe's seed;
/// 3. it is refined by EM over the recipe's pool — for the transductive recipe the test file's embeddings **and the
///    held-out rows, unlabeled**, with the leave-one-out E-step of `train --transductive`, since its final model is
///    refined so with the rows it then classifies; for the pool recipe the pool alone (plain E-step), since its test
///    rows are not in the pool either;
/// 4. the held-out rows are scored at τ = 0 and at the chosen τ (π the final model's class shares, as cross-validation
///    scores its folds).
///
/// K_max, κ₀ and τ were chosen on all training rows, held-out ones included: the estimate is of the recipe as
/// chosen, like the plain mixture's out-of-fold score, not a nested cross-validation. No test label is read.
enum VMFMixturePoolHoldOut {
    struct Estimate: Sendable, Equatable {
        /// Balanced accuracy of the held-out rows at τ = 0 and at the chosen τ.
        var raw: Double
        var calibrated: Double
        var heldOutRows: Int
        var fitRows: Int
    }

    /// - Parameters:
    ///   - rows, labels: the training file's real rows and labels (unit length, as the runner loads them).
    ///   - pool: the recipe's unlabeled rows (unit length); `transductive` appends the held-out rows to it and scores the
    ///     pool leave-one-out.
    ///   - adjustment: the recipe's chosen τ and its model's π.
    static func estimate(rows: Matrix, labels: [Int32], classCount: Int, pool: Matrix, poolSource: String, transductive: Bool,
                         maxModes: Int, kappa0: Double, adjustment: LogitAdjustment, seed: UInt64, fraction: Double, holdOutSeed: UInt64,
                         iterations: Int, threads: Int) throws -> Estimate {
        let (unit, classRows) = try VMFMixtureFitter.prepare(rows: rows, labels: labels, classCount: classCount, source: "training rows")
        // Over distinct rows, as the mixture fits them: a held-out row's exact copy is not left in the fit.
        let positions = try CalibrationHoldOut.heldOutPositions(realCounts: classRows.map(\.count), fraction: fraction, seed: holdOutSeed)
        var heldOut: [Int] = [], fitted: [Int] = []
        for (c, members) in classRows.enumerated() {
            let out = Set(positions[c])
            for (p, row) in members.enumerated() {
                if out.contains(p) { heldOut.append(row) } else { fitted.append(row) }
            }
        }
        heldOut.sort()
        fitted.sort()
        let fitRows = unit.gatherRows(fitted), fitLabels = fitted.map { labels[$0] }
        let base = try VMFMixtureFitter.fit(rows: fitRows, labels: fitLabels, classCount: classCount,
                                            settings: VMFMixtureSettings(maxModes: maxModes, priorConcentration: kappa0, seed: seed),
                                            threads: threads, source: "training rows not held out")
        // The same unit rows and class lists the fit used: EM recomputes its labelled sums from them.
        let (fitUnit, fitClassRows) = try VMFMixtureFitter.prepare(rows: fitRows, labels: fitLabels, classCount: classCount,
                                                                   source: "training rows not held out")
        let heldOutRows = unit.gatherRows(heldOut)
        var emPool = pool
        if transductive { emPool.appendRows(heldOutRows) }
        let refined = try VMFMixtureSemiSupervised.refine(
            base: base, unit: fitUnit, classRows: fitClassRows, maxModes: maxModes, kappa0: kappa0, seed: seed, pool: emPool,
            poolSource: poolSource + (transductive ? " + held-out training rows" : ""), iterations: iterations, threads: threads,
            leaveOneOutEStep: transductive)
        let logits = try refined.fit.model.logits(heldOutRows, adjustment: nil, source: "held-out training rows", threads: threads)
        var tally = HeldOutTally(classCount: classCount, gridCount: 2)
        tally.add(logits: logits, labels: heldOut.map { labels[$0] }, prior: adjustment.prior, grid: [0, adjustment.tau])
        let accuracies = tally.balancedAccuracies
        return Estimate(raw: accuracies[0], calibrated: accuracies[1], heldOutRows: heldOut.count, fitRows: fitted.count)
    }
}
