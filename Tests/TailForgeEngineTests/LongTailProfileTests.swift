import Testing
@testable import TailForgeEngine

/// The long-tail literature's split: many-shot (> 100 training samples), medium (20…100), few-shot (< 20).
private func shot(_ n: Int) -> String { n > 100 ? "many" : n >= 20 ? "medium" : "few" }

@Suite struct LongTailProfileTests {
    @Test func cifar100LTHasTheBenchmarkShape() {
        let p = LongTailProfile.cifar100LT
        #expect(p.count == 100)
        #expect(p.first == 500 && p.last == 5)
        #expect(p.reduce(0, +) == 10_847)
        #expect(zip(p, p.dropFirst()).allSatisfy { $0 >= $1 })
        let shots = p.map(shot)
        #expect(shots.filter { $0 == "many" }.count == 35)
        #expect(shots.filter { $0 == "medium" }.count == 35)
        #expect(shots.filter { $0 == "few" }.count == 30)
    }

    @Test func placesLTHasTheBenchmarkShape() {
        let p = LongTailProfile.placesLT
        #expect(p.count == 365)
        #expect(p.first == 4980 && p.last == 5)
        #expect(p.reduce(0, +) == 62_500)
        #expect(zip(p, p.dropFirst()).allSatisfy { $0 >= $1 })
        let shots = p.map(shot)
        #expect(shots.filter { $0 == "many" }.count == 131)
        #expect(shots.filter { $0 == "medium" }.count == 163)
        #expect(shots.filter { $0 == "few" }.count == 71)
    }
}
