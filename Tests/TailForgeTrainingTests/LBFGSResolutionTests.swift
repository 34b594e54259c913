import Foundation
import Testing
@testable import TailForgeTraining

/// ½ Σ kᵢ (zᵢ − cᵢ)² at z = Float(x), as the softmax data term sees its parameters, plus a float64 penalty
/// (λ/2)‖x‖². Below float32 resolution only the penalty changes — the situation of every real fit's end.
struct Float32RoundedQuadratic: DifferentiableObjective {
    let parameterCount: Int
    let lambda: Double
    var parameterPrecision: ParameterPrecision { .float32 }
    func evaluate(_ x: [Double]) async throws -> ObjectiveEvaluation {
        var f = 0.0
        var g = [Double](repeating: 0, count: x.count)
        for i in x.indices {
            let z = Double(Float(x[i])), k = 1 + Double(i), c = Double(i + 1) / 3
            f += 0.5 * k * (z - c) * (z - c) + 0.5 * lambda * x[i] * x[i]
            g[i] = k * (z - c) + lambda * x[i]
        }
        return ObjectiveEvaluation(value: f, gradient: g)
    }
}

@Suite struct LBFGSResolutionTests {
    /// Runs to the end with no tolerance at all, recording every accepted step and every state.
    func runToTheEnd(_ objective: some DifferentiableObjective, from start: [Double], maxIterations: Int = 500)
        async throws -> (LBFGS.Result, [(LBFGSIteration, LBFGSState)]) {
        let settings = LBFGSSettings(maxIterations: maxIterations, gradientTolerance: 0, lossTolerance: 0)
        var seen: [(LBFGSIteration, LBFGSState)] = []
        let result = try await LBFGS(settings: settings).minimize(objective, from: .point(start)) { seen.append(($0, $1)) }
        return (result, seen)
    }

    @Test func aFloat32ObjectiveStopsAtItsResolutionWithoutSpendingTheLineSearch() async throws {
        let objective = Float32RoundedQuadratic(parameterCount: 8, lambda: 1e-3)
        let start = [Double](repeating: 0, count: 8)
        let (result, seen) = try await runToTheEnd(objective, from: start)
        #expect(result.report.reason == .float32Resolution)
        #expect(result.report.converged)
        #expect(result.report.iterations < 500)
        // The last search stopped at resolution instead of running into its 20-evaluation cap (the old code
        // spent 20 evaluations there, then 20 more along steepest descent).
        let lastAccepted = seen.last?.0.evaluations ?? 1
        #expect(result.report.evaluations - lastAccepted < LBFGSSettings().maxLineSearchEvaluations)
        // The result is where float32 can put it: within a few float32 ulps of the minimiser of the data term.
        for (i, v) in result.x.enumerated() {
            let c = Double(i + 1) / 3, minimiser = c * (1 + Double(i)) / (1 + Double(i) + 1e-3)
            #expect(abs(v - minimiser) <= 1e-6, "parameter \(i): \(v), minimiser \(minimiser)")
        }
    }

    @Test func noAcceptedStepLeavesTheFloat32ParametersUnchangedOrStoresAPenaltyOnlyPair() async throws {
        let lambda = 1e-3
        let objective = Float32RoundedQuadratic(parameterCount: 8, lambda: lambda)
        var previous = [Double](repeating: 0, count: 8)
        let (_, seen) = try await runToTheEnd(objective, from: previous)
        #expect(seen.count > 3)
        for (info, state) in seen {
            #expect(!LBFGS.seesTheSameParameters(state.x, previous, .float32),
                    "iteration \(info.iteration) (step \(info.step)) moved no float32 parameter")
            previous = state.x
            for pair in state.history {
                // A step that the data term cannot see has y = λ·s, so sᵀy/yᵀy = 1/λ: a pair that poisons γ.
                let sy = zip(pair.s, pair.y).reduce(0) { $0 + $1.0 * $1.1 }, yy = pair.y.reduce(0) { $0 + $1 * $1 }
                #expect(abs(sy / yy * lambda - 1) > 0.5, "iteration \(info.iteration) stored a penalty-only pair")
            }
        }
    }

    @Test func aZeroLossDecreaseIsNotConvergenceWithALossToleranceOfZero() async throws {
        // A checkpoint whose last iteration lowered the loss by exactly 0: with --loss-tol 0 the run goes on.
        let objective = Rosenbrock(parameterCount: 4)
        let x = [Double](repeating: -1.2, count: 4)
        let first = try await objective.evaluate(x)
        let state = LBFGSState(iteration: 1, evaluations: 1, x: x, loss: first.value, previousLoss: first.value,
                               gradient: first.gradient, initialGradientNorm: norm(first.gradient), history: [], seconds: 0)
        let settings = LBFGSSettings(maxIterations: 500, gradientTolerance: 1e-8, lossTolerance: 0)
        let result = try await LBFGS(settings: settings).minimize(objective, from: .checkpoint(state))
        #expect(result.report.reason == .gradientTolerance)
        #expect(result.report.iterations > 1)
        // A positive tolerance still treats the same zero decrease as convergence.
        let loose = try await LBFGS(settings: LBFGSSettings(maxIterations: 500, gradientTolerance: 1e-8, lossTolerance: 1e-12))
            .minimize(objective, from: .checkpoint(state))
        #expect(loose.report.reason == .lossTolerance)
        #expect(loose.report.iterations == 1)
    }

    @Test func aSoftmaxFitWithoutTolerancesEndsAtFloat32Resolution() async throws {
        let (data, labels) = clusteredProblem(rows: 300, dimension: 6, classCount: 3, spread: 1.5, seed: 21)
        let source = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 300)], classCount: 3, threads: 2, blockRows: 64)
        let objective = try SoftmaxObjective(source: source, l2: 1e-3)
        let (result, seen) = try await runToTheEnd(objective, from: [Double](repeating: 0, count: objective.parameterCount))
        #expect(result.report.reason == .float32Resolution, "stopped by \(result.report.reason.rawValue)")
        let lastAccepted = seen.last?.0.evaluations ?? 1
        #expect(result.report.evaluations - lastAccepted < LBFGSSettings().maxLineSearchEvaluations)
        var previous = [Double](repeating: 0, count: objective.parameterCount)
        for (info, state) in seen {
            #expect(!LBFGS.seesTheSameParameters(state.x, previous, .float32), "iteration \(info.iteration) moved no weight")
            previous = state.x
        }
    }

    @Test func float64ObjectivesHaveNoResolutionStop() {
        #expect(LBFGS.resolutionStep([1, 2], [1e-30, 1e-30], .float64) == 0)
        // Half an ulp of Float(1) is 2⁻²⁴; of Float(2), 2⁻²³: the binding coordinate is the first.
        #expect(LBFGS.resolutionStep([1, 2], [1, 1], .float32) == 0x1p-24)
        #expect(LBFGS.resolutionStep([1, 2], [0, 4], .float32) == 0x1p-25)
    }

    @Test(arguments: [LBFGSStopReason.gradientTolerance, .lossTolerance, .zeroGradient, .float32Resolution,
                      .maxIterations, .lineSearchFailed])
    func theStopReasonIsSaidOnceInPlainWords(reason: LBFGSStopReason) {
        let text = reason.description
        #expect(text.hasPrefix(reason.converged ? "converged" : "not converged"))
        #expect(text.components(separatedBy: "converged").count == 2, "\(text)")
        #expect(text == text.lowercased() || text.contains("float32"))
        #expect(!text.contains("NOT"))
    }
}
