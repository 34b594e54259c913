/// The λ path of `train --l2 auto` (and of a job's `l2: auto`): the candidates are fitted on the calibration rows
/// largest first, each warm-started from the previous solution, and each fit's held-out tally is taken; the path
/// stops early once held-out balanced accuracy has peaked (``hasPeaked(_:)``). One walk serves both places that
/// search: `train` fits on local threads, a job's trainer on its workers with a checkpoint per fit; they differ
/// only in the `fit` and `tally` closures, so they fit the same candidates from the same starts.
public enum L2Path {
    /// One fitted candidate: its fit on the calibration rows and the held-out rows' tally under it.
    public struct Step: Sendable {
        public var l2: Double
        public var fit: SoftmaxTrainer.Result
        public var tally: HeldOutTally
    }

    /// How many candidates in a row must score below the best before the path stops.
    public static let patience = 2

    /// Whether the path may stop after candidates scoring `scores` (each its best held-out balanced accuracy over
    /// τ, in the order fitted): the last ``patience`` each scored strictly below the best before them. Smaller
    /// λ then only keep fitting the calibration rows more closely (and cost the most iterations); a tie keeps
    /// the path going, since a plateau can still rise. A later candidate that would have scored higher again is
    /// the price: the choice is the best of the candidates fitted.
    public static func hasPeaked(_ scores: [Double]) -> Bool {
        guard scores.count > patience else { return false }
        let best = scores.dropLast(patience).max()!
        return scores.suffix(patience).allSatisfy { $0 < best }
    }

    /// Fits the candidates of `grid` (strictly descending; nil: the one λ of `settings`) in order until the path has
    /// peaked. `fit(index, settings, start)` fits the calibration rows with `settings` — along a grid a candidate's
    /// (``candidateSettings(_:l2:)``), without one the run's own — from `first` for the first candidate (nil: zero;
    /// at a given λ, the final fit's weights: ``CalibrationFitPlan``), else from `start`, the previous solution (whose
    /// stopping test stays relative to the gradient norm at zero, which λ does not change); `tally(model)` scores the
    /// held-out rows for every τ of the calibration's grid.
    public static func walk(grid: [Double]?, settings: TrainingSettings, first: LBFGS.Start? = nil,
                            fit: (_ index: Int, _ settings: TrainingSettings, _ start: LBFGS.Start?) async throws -> SoftmaxTrainer.Result,
                            tally: (SoftmaxModel) async throws -> HeldOutTally) async throws -> [Step] {
        let candidates = grid ?? [settings.l2]
        precondition(!candidates.isEmpty && zip(candidates, candidates.dropFirst()).allSatisfy { $0 > $1 },
                     "L2Path.walk: candidates strictly descending")
        var steps: [Step] = []
        for (index, l2) in candidates.enumerated() {
            let start = steps.last.map { LBFGS.Start.warm($0.fit.state.x, initialGradientNorm: steps[0].fit.report.initialGradientNorm) } ?? first
            let fitted = try await fit(index, grid == nil ? settings : candidateSettings(settings, l2: l2), start)
            steps.append(Step(l2: l2, fit: fitted, tally: try await tally(fitted.model)))
            if hasPeaked(steps.map { bestScore($0.tally) }) { break }
        }
        return steps
    }

    /// How much looser than the final fit's relative loss tolerance (`--loss-tol`, default 1e-9) a candidate fit
    /// of the path stops: 10×, i.e. 1e-8 by default. A candidate's fit only has to rank it on the held-out rows; the
    /// last iterations of a fit at 1e-9 change the loss by less than 1e-8 of itself per iteration and the held-out
    /// predictions hardly at all, yet they are a fifth of its iterations. Chosen by measurement (README, "λ chosen
    /// on held-out rows"): on cifar100-lt seeds 1–3, class weights and unweighted, 10× chose the same λ and τ as
    /// the final tolerance in all six runs with 19 % fewer evaluations; 30× and looser changed the choice in one
    /// to three of them, since candidates there are a few held-out rows apart.
    public static let candidateLossToleranceFactor = 10.0

    /// The settings of a candidate fit at `l2` along a grid: the run's, with that λ and the relative loss tolerance
    /// ``candidateLossToleranceFactor`` times the run's. The final fit keeps the run's own settings.
    public static func candidateSettings(_ settings: TrainingSettings, l2: Double) -> TrainingSettings {
        var candidate = settings
        candidate.l2 = l2
        candidate.optimizer.lossTolerance = settings.optimizer.lossTolerance * candidateLossToleranceFactor
        return candidate
    }

    /// A tally's best held-out balanced accuracy over τ.
    static func bestScore(_ tally: HeldOutTally) -> Double {
        tally.balancedAccuracies.max() ?? -.infinity
    }
}
