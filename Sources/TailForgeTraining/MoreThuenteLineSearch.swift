/// The Moré–Thuente line search (MINPACK-2 `dcsrch`/`dcstep`): finds a step α along a descent direction d
/// satisfying the strong Wolfe conditions
///
///     f(x + αd) ≤ f(x) + c₁·α·gᵀd     and     |g(x + αd)ᵀd| ≤ c₂·|gᵀd|
///
/// by safeguarded cubic/quadratic interpolation inside a shrinking interval of uncertainty.
/// Moré & Thuente, "Line search algorithms with guaranteed sufficient decrease", ACM TOMS 20 (1994).
struct MoreThuenteLineSearch {
    var sufficientDecrease: Double
    var curvature: Double
    var maxEvaluations: Int
    /// Relative width of the interval of uncertainty below which the search gives up refining.
    var relativeWidthTolerance = 1e-12
    var minStep = 1e-20
    var maxStep = 1e20

    struct Point {
        var step: Double
        var x: [Double]
        var evaluation: ObjectiveEvaluation
    }

    enum Outcome {
        /// Strong Wolfe conditions hold at the point.
        case wolfe(Point, evaluations: Int)
        /// The search ran out of evaluations or interval, but the point decreases f sufficiently.
        case sufficientDecrease(Point, evaluations: Int)
        /// No point with sufficient decrease was found.
        case failed(evaluations: Int)
        /// The next trial step was below `resolutionStep` (no parameter would move by half an ulp of the
        /// precision the objective sees) before any point with sufficient decrease was found.
        case belowResolution(evaluations: Int)
    }

    /// Searches from `x` (value `f0`, gradient `g0`) along `direction` starting with `initialStep`. Steps below
    /// `resolutionStep` are never tried: at them the objective would see the same parameters as at `x`.
    func search(objective: some DifferentiableObjective, x: [Double], f0: Double, g0: [Double],
                direction: [Double], initialStep: Double, resolutionStep: Double = 0) async throws -> Outcome {
        let dg0 = dot(g0, direction)
        precondition(dg0 < 0, "line search needs a descent direction")
        let gtest = sufficientDecrease * dg0
        var bracketed = false
        var stage1 = true
        var width = maxStep - minStep
        var width1 = 2 * width
        // Best (stx) and other (sty) interval ends, with function values and slopes.
        var stx = 0.0, fx = f0, gx = dg0
        var sty = 0.0, fy = f0, gy = dg0
        var stmin = 0.0
        var stmax = initialStep + 4 * initialStep
        var step = min(max(initialStep, minStep), maxStep)
        var best: Point?
        var evaluations = 0

        while evaluations < maxEvaluations {
            if step < resolutionStep {
                if let best { return .sufficientDecrease(best, evaluations: evaluations) }
                return .belowResolution(evaluations: evaluations)
            }
            var trial = x
            for i in trial.indices { trial[i] += step * direction[i] }
            let evaluation = try await objective.evaluate(trial)
            evaluations += 1
            let f = evaluation.value
            if !f.isFinite {
                // Overflow at this step: the minimiser is closer; shrink towards the best point.
                bracketed = true
                stmax = step
                sty = step; fy = .greatestFiniteMagnitude; gy = 0
                step = stx + 0.5 * (step - stx)
                continue
            }
            let g = dot(evaluation.gradient, direction)
            let ftest = f0 + step * gtest
            let point = Point(step: step, x: trial, evaluation: evaluation)
            if f <= ftest, best == nil || f < best!.evaluation.value { best = point }
            if f <= ftest, abs(g) <= curvature * (-dg0) {
                return .wolfe(point, evaluations: evaluations)
            }
            if stage1, f <= ftest, g >= 0 { stage1 = false }
            if bracketed, step <= stmin || step >= stmax || stmax - stmin <= relativeWidthTolerance * stmax { break }
            if step == maxStep, f <= ftest, g <= gtest { break }
            if step == minStep, f > ftest || g >= gtest { break }

            if stage1, f <= fx, f > ftest {
                // Modified function ψ(α) = φ(α) − φ(0) − α·c₁·φ'(0) in the first stage.
                var fxm = fx - stx * gtest, fym = fy - sty * gtest
                var gxm = gx - gtest, gym = gy - gtest
                Self.step(&stx, &fxm, &gxm, &sty, &fym, &gym, &step, f - step * gtest, g - gtest,
                          &bracketed, stmin, stmax)
                fx = fxm + stx * gtest; fy = fym + sty * gtest
                gx = gxm + gtest; gy = gym + gtest
            } else {
                Self.step(&stx, &fx, &gx, &sty, &fy, &gy, &step, f, g, &bracketed, stmin, stmax)
            }
            if bracketed {
                if abs(sty - stx) >= 0.66 * width1 { step = stx + 0.5 * (sty - stx) }
                width1 = width
                width = abs(sty - stx)
                stmin = min(stx, sty)
                stmax = max(stx, sty)
            } else {
                stmin = step + 1.1 * (step - stx)
                stmax = step + 4 * (step - stx)
            }
            step = min(max(step, minStep), maxStep)
            if bracketed, step <= stmin || step >= stmax || stmax - stmin <= relativeWidthTolerance * stmax {
                step = stx
                if stx == 0 { break }
            }
        }
        if let best { return .sufficientDecrease(best, evaluations: evaluations) }
        return .failed(evaluations: evaluations)
    }

    /// MINPACK-2 `dcstep`: updates the interval [stx, sty] and picks the next trial step.
    // swiftlint:disable:next function_parameter_count
    static func step(_ stx: inout Double, _ fx: inout Double, _ dx: inout Double,
                     _ sty: inout Double, _ fy: inout Double, _ dy: inout Double,
                     _ stp: inout Double, _ fp: Double, _ dp: Double,
                     _ bracketed: inout Bool, _ stpmin: Double, _ stpmax: Double) {
        let sgnd = dp * (dx / abs(dx))
        var stpf: Double
        if fp > fx {
            // Higher value: the minimum is bracketed; cubic or quadratic-between.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), abs(dx), abs(dp))
            var gamma = s * ((theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp < stx { gamma = -gamma }
            let p = (gamma - dx) + theta
            let q = ((gamma - dx) + gamma) + dp
            let stpc = stx + (p / q) * (stp - stx)
            let stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2) * (stp - stx)
            stpf = abs(stpc - stx) < abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2
            bracketed = true
        } else if sgnd < 0 {
            // Slopes of opposite sign: bracketed; cubic or secant, the farther one.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), abs(dx), abs(dp))
            var gamma = s * ((theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp > stx { gamma = -gamma }
            let p = (gamma - dp) + theta
            let q = ((gamma - dp) + gamma) + dx
            let stpc = stp + (p / q) * (stx - stp)
            let stpq = stp + (dp / (dp - dx)) * (stx - stp)
            stpf = abs(stpc - stp) > abs(stpq - stp) ? stpc : stpq
            bracketed = true
        } else if abs(dp) < abs(dx) {
            // Same slope sign, decreasing magnitude: extrapolate carefully.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), abs(dx), abs(dp))
            var gamma = s * max(0, (theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp > stx { gamma = -gamma }
            let p = (gamma - dp) + theta
            let q = (gamma + (dx - dp)) + gamma
            let r = p / q
            let stpc: Double
            if r < 0, gamma != 0 {
                stpc = stp + r * (stx - stp)
            } else {
                stpc = stp > stx ? stpmax : stpmin
            }
            let stpq = stp + (dp / (dp - dx)) * (stx - stp)
            if bracketed {
                stpf = abs(stpc - stp) < abs(stpq - stp) ? stpc : stpq
                stpf = stp > stx ? min(stp + 0.66 * (sty - stp), stpf) : max(stp + 0.66 * (sty - stp), stpf)
            } else {
                stpf = abs(stpc - stp) > abs(stpq - stp) ? stpc : stpq
                stpf = max(stpmin, min(stpmax, stpf))
            }
        } else {
            // Same slope sign, no decrease in magnitude.
            if bracketed {
                let theta = 3 * (fp - fy) / (sty - stp) + dy + dp
                let s = max(abs(theta), abs(dy), abs(dp))
                var gamma = s * ((theta / s) * (theta / s) - (dy / s) * (dp / s)).squareRoot()
                if stp > sty { gamma = -gamma }
                let p = (gamma - dp) + theta
                let q = ((gamma - dp) + gamma) + dy
                stpf = stp + (p / q) * (sty - stp)
            } else {
                stpf = stp > stx ? stpmax : stpmin
            }
        }
        if fp > fx {
            sty = stp; fy = fp; dy = dp
        } else {
            if sgnd < 0 { sty = stx; fy = fx; dy = dx }
            stx = stp; fx = fp; dx = dp
        }
        stp = stpf
    }
}

/// Σ aᵢbᵢ in float64, in index order (deterministic).
func dot(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    return a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            var sum = 0.0
            for i in 0 ..< a.count { sum += a[i] * b[i] }
            return sum
        }
    }
}
