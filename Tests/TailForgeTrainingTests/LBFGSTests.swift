import Foundation
import Testing
@testable import TailForgeTraining

/// The n-dimensional Rosenbrock function: non-convex, a curved valley, minimum 0 at (1, …, 1).
struct Rosenbrock: DifferentiableObjective {
    let parameterCount: Int
    func evaluate(_ x: [Double]) async throws -> ObjectiveEvaluation {
        var f = 0.0
        var g = [Double](repeating: 0, count: x.count)
        for i in 0 ..< x.count - 1 {
            let a = x[i + 1] - x[i] * x[i], b = 1 - x[i]
            f += 100 * a * a + b * b
            g[i] += -400 * x[i] * a - 2 * b
            g[i + 1] += 200 * a
        }
        return ObjectiveEvaluation(value: f, gradient: g)
    }
}

/// ½ Σ kᵢ (xᵢ − 1)² with condition number 1000, overflowing to +∞ far away (tests the line search's retreat).
struct IllConditionedQuadratic: DifferentiableObjective {
    let parameterCount: Int
    func evaluate(_ x: [Double]) async throws -> ObjectiveEvaluation {
        var f = 0.0
        var g = x
        for i in x.indices {
            let k = Foundation.pow(1000, Double(i) / Double(x.count - 1))
            f += 0.5 * k * (x[i] - 1) * (x[i] - 1)
            g[i] = k * (x[i] - 1)
        }
        return ObjectiveEvaluation(value: x.contains { abs($0) > 1e6 } ? .infinity : f, gradient: g)
    }
}

@Suite struct LBFGSTests {
    @Test func minimisesRosenbrock() async throws {
        var settings = LBFGSSettings(maxIterations: 500, gradientTolerance: 1e-8, lossTolerance: 0)
        settings.historySize = 5
        let result = try await LBFGS(settings: settings).minimize(Rosenbrock(parameterCount: 6), from: .point([Double](repeating: -1.2, count: 6)))
        #expect(result.report.converged)
        #expect(result.report.reason == .gradientTolerance)
        // ‖g‖ ≤ 1e-8·‖g₀‖ with a well-conditioned Hessian at the minimum puts x within ~1e-6 of it.
        for v in result.x { #expect(abs(v - 1) < 1e-5) }
    }

    @Test func everyAcceptedStepSatisfiesTheStrongWolfeConditions() async throws {
        // Recompute the conditions from the iterates the callback reports. (scipy's L-BFGS-B needs a similar
        // ~250 iterations on this problem.)
        let objective = IllConditionedQuadratic(parameterCount: 30)
        var settings = LBFGSSettings(maxIterations: 1000, gradientTolerance: 1e-8, lossTolerance: 0)
        settings.historySize = 4
        var previous: LBFGSState?
        var checked = 0
        let start = [Double](repeating: 50, count: 30)
        let first = try await objective.evaluate(start)
        previous = LBFGSState(iteration: 0, evaluations: 1, x: start, loss: first.value, previousLoss: nil, gradient: first.gradient,
                              initialGradientNorm: 0, history: [], seconds: 0)
        let result = try await LBFGS(settings: settings).minimize(objective, from: .point(start)) { info, state in
            let before = previous!
            let direction = zip(state.x, before.x).map { ($0 - $1) / info.step }
            let slope0 = zip(before.gradient, direction).reduce(0) { $0 + $1.0 * $1.1 }
            let slope = zip(state.gradient, direction).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(state.loss <= before.loss + settings.sufficientDecrease * info.step * slope0 + 1e-12 * abs(before.loss))
            #expect(abs(slope) <= settings.curvature * abs(slope0) * (1 + 1e-9) + 1e-14)
            previous = state
            checked += 1
        }
        #expect(result.report.converged)
        #expect(checked == result.report.iterations && checked > 3)
    }

    @Test func reportsNotConvergedAtTheIterationCap() async throws {
        let result = try await LBFGS(settings: LBFGSSettings(maxIterations: 3, gradientTolerance: 0, lossTolerance: 0))
            .minimize(Rosenbrock(parameterCount: 4), from: .point([Double](repeating: -1.2, count: 4)))
        #expect(!result.report.converged)
        #expect(result.report.reason == .maxIterations)
        #expect(result.report.iterations == 3)
        let initial = try await Rosenbrock(parameterCount: 4).evaluate([Double](repeating: -1.2, count: 4)).value
        #expect(result.report.finalLoss < initial)
    }

    @Test func resumingFromACheckpointGivesTheUninterruptedResult() async throws {
        let objective = Rosenbrock(parameterCount: 5)
        let start = LBFGS.Start.point([Double](repeating: -1.2, count: 5))
        let full = try await LBFGS(settings: LBFGSSettings(maxIterations: 15, gradientTolerance: 0, lossTolerance: 0))
            .minimize(objective, from: start)
        var saved: LBFGSState?
        _ = try await LBFGS(settings: LBFGSSettings(maxIterations: 15, gradientTolerance: 0, lossTolerance: 0))
            .minimize(objective, from: start) { info, state in
                if info.iteration == 6 { saved = state }
            }
        // Through JSON, as a checkpoint file would be (Swift's JSON round-trips float64 exactly).
        let decoded = try JSONDecoder().decode(LBFGSState.self, from: JSONEncoder().encode(saved!))
        #expect(decoded == saved!)
        let resumed = try await LBFGS(settings: LBFGSSettings(maxIterations: 15, gradientTolerance: 0, lossTolerance: 0))
            .minimize(objective, from: .checkpoint(decoded))
        #expect(resumed.x == full.x)
        #expect(resumed.report.iterations == 15)
        #expect(resumed.report.evaluations == full.report.evaluations)
    }

    @Test func rejectsAStartOfTheWrongSize() async throws {
        await #expect(throws: TrainingError.startMismatch(expected: 4, found: 3)) {
            _ = try await LBFGS().minimize(Rosenbrock(parameterCount: 4), from: .point([0, 0, 0]))
        }
    }

    @Test func rejectsANonFiniteStart() async throws {
        await #expect(throws: TrainingError.nonFiniteStart(loss: .infinity)) {
            _ = try await LBFGS().minimize(IllConditionedQuadratic(parameterCount: 3), from: .point([1e7, 0, 0]))
        }
    }
}
