import Foundation

/// Limited-memory BFGS with a Moré–Thuente (strong Wolfe) line search, for ``DifferentiableObjective``s.
///
/// Directions come from the two-loop recursion over the last m correction pairs, scaled by γ = sᵀy/yᵀy.
/// The run stops when the gradient norm falls below a tolerance *relative to its initial value*, when the
/// relative loss decrease becomes negligible, at the iteration cap, at the evaluation cap (when set), or when
/// no acceptable step exists; the ``LBFGSReport`` says which, and whether that counts as converged.
///
/// ## Float32 resolution
/// An objective that rounds its parameters to float32 (``ParameterPrecision/float32``) cannot see steps
/// below half a float32 ulp of every parameter: only a float64 penalty would still change, the curvature
/// condition could never hold, and a line search would spend its whole budget there. So no trial step below
/// that resolution is evaluated; when the search reaches it without an acceptable point, the run stops,
/// "converged at float32 resolution". A step that leaves every float32 parameter as it was is never taken
/// and never yields a correction pair (its y would be the penalty's alone, sᵀy/yᵀy = 1/λ).
public struct LBFGS: Sendable {
    public var settings: LBFGSSettings

    public init(settings: LBFGSSettings = LBFGSSettings()) {
        self.settings = settings
    }

    /// The result of ``minimize(_:from:onIteration:)``.
    public struct Result: Sendable {
        public var x: [Double]
        public var report: LBFGSReport
        /// The final state (a checkpoint that resumes nothing further unless settings change).
        public var state: LBFGSState
    }

    /// Where a run starts.
    public enum Start: Sendable {
        case point([Double])
        /// A point near the minimum (the solution of a nearby problem: a warm start), with the gradient norm
        /// the relative gradient test is taken against — that of the usual start, so the warm run stops at the
        /// same gradient norm as a cold one would instead of a tolerance relative to an already small gradient.
        case warm([Double], initialGradientNorm: Double)
        case checkpoint(LBFGSState)
    }

    /// Minimises `objective` from `start`, calling `onIteration` after every iteration with its figures and
    /// the state to checkpoint (cheap to receive: the arrays are shared until the optimiser next changes them).
    public func minimize(_ objective: some DifferentiableObjective, from start: Start,
                         onIteration: (LBFGSIteration, LBFGSState) async throws -> Void = { _, _ in }) async throws -> Result {
        try settings.validate()
        let clock = ContinuousClock()
        let began = clock.now
        var state: LBFGSState
        switch start {
        case .point(let x), .warm(let x, _):
            guard x.count == objective.parameterCount else {
                throw TrainingError.startMismatch(expected: objective.parameterCount, found: x.count)
            }
            let first = try await objective.evaluate(x)
            guard first.value.isFinite else { throw TrainingError.nonFiniteStart(loss: first.value) }
            var reference = norm(first.gradient)
            if case .warm(_, let given) = start { reference = given }
            state = LBFGSState(iteration: 0, evaluations: 1, x: x, loss: first.value, previousLoss: nil, gradient: first.gradient,
                               initialGradientNorm: reference, history: [], seconds: 0)
        case .checkpoint(let saved):
            guard saved.x.count == objective.parameterCount, saved.gradient.count == objective.parameterCount,
                  saved.history.allSatisfy({ $0.s.count == objective.parameterCount }) else {
                throw TrainingError.startMismatch(expected: objective.parameterCount, found: saved.x.count)
            }
            state = saved
        }
        let secondsBefore = state.seconds
        func elapsed() -> Double {
            let d = (clock.now - began).components
            return secondsBefore + Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }
        // A line search gets at most what the evaluation limit leaves, so a capped run never exceeds it.
        func lineSearch(after evaluations: Int) -> MoreThuenteLineSearch {
            let left = settings.maxEvaluations.map { $0 - evaluations } ?? .max
            return MoreThuenteLineSearch(sufficientDecrease: settings.sufficientDecrease, curvature: settings.curvature,
                                         maxEvaluations: min(settings.maxLineSearchEvaluations, left))
        }
        func outOfEvaluations(_ evaluations: Int) -> Bool { settings.maxEvaluations.map { evaluations >= $0 } ?? false }
        var gradientNorm = norm(state.gradient)
        var reason: LBFGSStopReason

        while true {
            if gradientNorm == 0 { reason = .zeroGradient; break }
            if gradientNorm <= settings.gradientTolerance * state.initialGradientNorm { reason = .gradientTolerance; break }
            // Strict: with a tolerance of 0, a decrease of exactly 0 is not convergence.
            if let previousLoss = state.previousLoss,
               (previousLoss - state.loss) / max(abs(previousLoss), abs(state.loss), 1) < settings.lossTolerance {
                reason = .lossTolerance
                break
            }
            if state.iteration >= settings.maxIterations { reason = .maxIterations; break }
            if outOfEvaluations(state.evaluations) { reason = .maxEvaluations; break }

            var direction = Self.twoLoopDirection(gradient: state.gradient, history: state.history)
            var slope = dot(direction, state.gradient)
            if !(slope < 0) {
                // Curvature information went bad (should not happen with sᵀy > 0): restart from steepest descent.
                state.history.removeAll()
                direction = state.gradient.map { -$0 }
                slope = -gradientNorm * gradientNorm
            }
            let precision = objective.parameterPrecision
            var outcome = try await lineSearch(after: state.evaluations).search(
                objective: objective, x: state.x, f0: state.loss, g0: state.gradient, direction: direction,
                initialStep: Self.initialStep(state, direction), resolutionStep: Self.resolutionStep(state.x, direction, precision))
            if case .failed(let evaluations) = outcome, !state.history.isEmpty, !outOfEvaluations(state.evaluations + evaluations) {
                // Retry once along steepest descent with a fresh memory before giving up.
                state.evaluations += evaluations
                state.history.removeAll()
                direction = state.gradient.map { -$0 }
                outcome = try await lineSearch(after: state.evaluations).search(
                    objective: objective, x: state.x, f0: state.loss, g0: state.gradient, direction: direction,
                    initialStep: Self.initialStep(state, direction), resolutionStep: Self.resolutionStep(state.x, direction, precision))
            }
            let point: MoreThuenteLineSearch.Point
            switch outcome {
            case .wolfe(let p, let evaluations), .sufficientDecrease(let p, let evaluations):
                state.evaluations += evaluations
                point = p
            case .failed(let evaluations):
                state.evaluations += evaluations
                state.seconds = elapsed()
                // A search cut short by the evaluation limit says nothing about the line.
                return finish(state, reason: outOfEvaluations(state.evaluations) ? .maxEvaluations : .lineSearchFailed)
            case .belowResolution(let evaluations):
                state.evaluations += evaluations
                state.seconds = elapsed()
                return finish(state, reason: .float32Resolution)
            }
            if Self.seesTheSameParameters(point.x, state.x, precision) {
                // Accepted on the penalty alone (a step just above resolution that rounded back): nothing the
                // data term sees changed, so neither the point nor its pair carries information.
                state.seconds = elapsed()
                return finish(state, reason: .float32Resolution)
            }

            var s = point.x, y = point.evaluation.gradient
            for i in s.indices {
                s[i] -= state.x[i]
                y[i] -= state.gradient[i]
            }
            let sy = dot(s, y)
            if sy > 1e-12 * dot(y, y) {
                // Only curvature-positive pairs keep the inverse Hessian estimate positive definite.
                if state.history.count == settings.historySize { state.history.removeFirst() }
                state.history.append(.init(s: s, y: y, rho: 1 / sy))
            }
            state.previousLoss = state.loss
            state.x = point.x
            state.loss = point.evaluation.value
            state.gradient = point.evaluation.gradient
            state.iteration += 1
            gradientNorm = norm(state.gradient)
            state.seconds = elapsed()
            try await onIteration(LBFGSIteration(iteration: state.iteration, loss: state.loss, gradientNorm: gradientNorm,
                                                 step: point.step, evaluations: state.evaluations, seconds: state.seconds),
                                  state)
        }
        state.seconds = elapsed()
        return finish(state, reason: reason)
    }

    private func finish(_ state: LBFGSState, reason: LBFGSStopReason) -> Result {
        let report = LBFGSReport(converged: reason.converged, reason: reason, iterations: state.iteration,
                                 finalLoss: state.loss, gradientNorm: norm(state.gradient),
                                 initialGradientNorm: state.initialGradientNorm, evaluations: state.evaluations,
                                 seconds: state.seconds)
        return Result(x: state.x, report: report, state: state)
    }

    /// The smallest step α at which some |α·dᵢ| reaches half an ulp of xᵢ in the objective's precision (every
    /// smaller step is invisible to it); 0 for float64 objectives, which see every step.
    static func resolutionStep(_ x: [Double], _ direction: [Double], _ precision: ParameterPrecision) -> Double {
        guard precision == .float32 else { return 0 }
        var step = Double.infinity
        for i in x.indices where direction[i] != 0 {
            let halfULP = Double(Float(x[i]).ulp) / 2
            if halfULP.isFinite { step = min(step, halfULP / abs(direction[i])) }
        }
        return step
    }

    /// Whether the objective evaluates `a` and `b` at the same parameters.
    static func seesTheSameParameters(_ a: [Double], _ b: [Double], _ precision: ParameterPrecision) -> Bool {
        switch precision {
        case .float64: a == b
        case .float32: a.indices.allSatisfy { Float(a[$0]) == Float(b[$0]) }
        }
    }

    /// Step 1 for quasi-Newton directions; without curvature memory, a step of unit length.
    private static func initialStep(_ state: LBFGSState, _ direction: [Double]) -> Double {
        state.history.isEmpty ? 1 / norm(direction) : 1
    }

    /// −H·g by the two-loop recursion, H₀ = γI with γ = sᵀy/yᵀy of the newest pair.
    static func twoLoopDirection(gradient: [Double], history: [LBFGSState.Correction]) -> [Double] {
        var q = gradient
        var alphas = [Double](repeating: 0, count: history.count)
        for i in history.indices.reversed() {
            let alpha = history[i].rho * dot(history[i].s, q)
            alphas[i] = alpha
            axpy(-alpha, history[i].y, &q)
        }
        if let newest = history.last {
            let gamma = 1 / (newest.rho * dot(newest.y, newest.y))
            for i in q.indices { q[i] *= gamma }
        }
        for i in history.indices {
            let beta = history[i].rho * dot(history[i].y, q)
            axpy(alphas[i] - beta, history[i].s, &q)
        }
        for i in q.indices { q[i] = -q[i] }
        return q
    }
}

/// y += a·x.
func axpy(_ a: Double, _ x: [Double], _ y: inout [Double]) {
    x.withUnsafeBufferPointer { x in
        y.withUnsafeMutableBufferPointer { y in
            for i in 0 ..< x.count { y[i] += a * x[i] }
        }
    }
}

/// Euclidean norm, accumulated in index order.
func norm(_ v: [Double]) -> Double {
    dot(v, v).squareRoot()
}
