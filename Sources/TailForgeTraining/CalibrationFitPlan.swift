/// How `--calibrate`'s calibration fits start and what they may spend.
///
/// At a given λ (no `--l2 auto` grid) the final fit on all rows runs first, from zero, exactly as without
/// `--calibrate`; the calibration fit on the fit rows then starts from the final fit's weights and may spend at
/// most as many objective evaluations as the final fit did. Each of its evaluations covers only the fit rows
/// (`1 − f` of the real rows and their synthetic copies), so calibration costs at most one final fit by
/// construction — before, it was a second fit from zero, measured at 0.52–1.68× the final fit.
///
/// Why the warm start does not leak the held-out rows into the choice of τ, for λ > 0: the objective (mean
/// cross-entropy + (λ/2)·‖W‖², ``SoftmaxObjective``) is then strictly convex on the slice the optimiser moves in. The
/// penalty is strictly convex in W, and in the biases, which are not penalised, the cross-entropy is strictly
/// convex except along the common shift b + c·1, which changes no softmax, no argmax and no held-out tally; every
/// gradient is orthogonal to that shift (its bias part sums to zero over classes), so a run never moves along it
/// (up to the float32 rounding of the weights the data term sees), and the final fit's weights, started from zero,
/// lie on the same slice as a cold start. So the calibration objective has one minimiser there whatever the start,
/// and a *converged* warm fit is that minimiser to within the optimiser's tolerance — the same one the old cold fit
/// reached, which never saw the held-out rows; the held-out rows shape only where the search began. A fit that hits
/// the evaluation cap instead stops on the way from the final fit's weights to that minimiser, still partly fitted
/// to the held-out rows: its held-out scores are then optimistic, and the record says so (``CalibrationRecord/Fit``:
/// `converged`, `stop_reason` `max-evaluations`).
///
/// At λ = 0 (allowed: `--l2 0`) that argument fails. Without the penalty the weights are not pinned: on separable
/// classes the cross-entropy has no minimiser at all (it falls towards 0 as the weights grow along a separating
/// direction), and a run stops wherever its tolerances stop it, so the end point depends on the start; a start fitted
/// to the held-out rows would carry their separation into the scores. So at λ = 0 the calibration fit starts from zero,
/// as it always did, and has no cap: the choice stays honest and the cost is the old one (the bound does not hold).
///
/// The λ path of `--l2 auto` keeps its order: its candidates must be fitted and scored before the final fit knows
/// its λ, so they start from zero (the first) and from the previous candidate (``L2Path``), without a cap.
public struct CalibrationFitPlan: Sendable {
    /// The calibration fit's settings: the run's, with the final fit's evaluations as the evaluation limit when it
    /// starts from the final fit.
    public var settings: TrainingSettings
    /// Where the first calibration fit starts: nil is zero.
    public var start: LBFGS.Start?
    public var startKind: CalibrationRecord.Fit.Start

    /// The plan at the run's `settings` for `calibration`; `final` is the final fit when it has run already (at a given
    /// λ), nil for a λ path (which precedes it).
    public init(settings: TrainingSettings, calibration: CalibrationSettings, after final: SoftmaxTrainer.Result?) {
        precondition(final == nil || calibration.l2Grid == nil, "CalibrationFitPlan: a λ path is fitted before the final fit")
        self.settings = settings
        guard let final, settings.l2 > 0 else {
            start = nil
            startKind = .zero
            return
        }
        // The relative gradient test stays relative to the gradient norm at zero, as a cold fit's would: the final
        // fit's, over all rows — the fit rows' differs only by the hold-out's sampling (both are means over rows
        // drawn per class), and measuring it would cost an evaluation.
        start = .warm(final.state.x, initialGradientNorm: final.report.initialGradientNorm)
        startKind = .finalFit
        self.settings.optimizer.maxEvaluations = min(final.report.evaluations, settings.optimizer.maxEvaluations ?? .max)
    }

    /// How the first calibration fit starts, for a progress line.
    public var phase: String {
        switch startKind {
        case .finalFit: "warm-started from the final fit's weights, at most \(settings.optimizer.maxEvaluations ?? 0) evaluations (the final fit's)"
        case .zero where settings.l2 == 0: "from zero (λ = 0: a warm start would carry the held-out rows' fit), no evaluation limit"
        case .zero, .previousCandidate: "from zero"
        }
    }

    /// Whether the calibration fit follows the final fit (at a given λ) rather than preceding it (a λ path).
    public static func followsTheFinalFit(_ calibration: CalibrationSettings) -> Bool { calibration.l2Grid == nil }

    /// How each fit of `reports` (one per candidate fitted, in order; one at a given λ) started and stopped.
    public func fits(_ reports: [LBFGSReport]) -> [CalibrationRecord.Fit] {
        reports.enumerated().map { index, report in
            CalibrationRecord.Fit(start: index == 0 ? startKind : .previousCandidate, evaluations: report.evaluations,
                                  evaluationCap: index == 0 ? settings.optimizer.maxEvaluations : nil,
                                  converged: report.converged, stopReason: report.reason)
        }
    }
}
