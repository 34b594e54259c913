import Testing
@testable import TailForgeEngine

@Suite struct BalancePlanTests {
    @Test func topsUpEveryClassToTheLargestAndKeepsLargerClassesWhole() throws {
        let plan = try BalancePlan(classSizes: [10, 3, 0, 7], settings: BalanceSettings(target: .count(8)))
        #expect(plan.target == 8)
        #expect(plan.classes.map(\.keptCount) == [10, 3, 0, 7])
        #expect(plan.classes.map(\.syntheticCount) == [0, 5, 0, 1])
        #expect(plan.classes.map(\.offset) == [0, 10, 18, 18])
        #expect(plan.totalRows == 26)
    }

    @Test func subsamplingCutsLargeClassesToTheTarget() throws {
        let plan = try BalancePlan(classSizes: [10, 3], settings: BalanceSettings(target: .count(8), subsample: true))
        #expect(plan.classes.map(\.keptCount) == [8, 3])
        #expect(plan.totalRows == 16)
    }

    @Test func noneSamplerAddsNothing() throws {
        let plan = try BalancePlan(classSizes: [10, 3], settings: BalanceSettings(sampler: .none))
        #expect(plan.syntheticRows == 0)
        #expect(plan.totalRows == 13)
    }
}
