import Foundation
import Testing
import TailForgeNumerics
@testable import TailForgeTraining

/// ``HeldOutTally/add(logits:labels:prior:grid:)`` compares each row's class only with the classes that can beat it
/// somewhere on the τ grid; these tests hold it to the plain argmax over every class at every τ, count for count.
@Suite struct HeldOutTallyTests {
    /// The plain rule: argmax of logit_c − τ·log π_c, ties to the lower class.
    static func plain(logits: [Float], labels: [Int32], prior: [Double], grid: [Double]) -> [[Int]] {
        let classCount = prior.count
        var correct = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: grid.count)
        for (t, tau) in grid.enumerated() {
            for i in labels.indices {
                var best = 0, bestScore = -Double.infinity
                for c in 0 ..< classCount {
                    let score = Double(logits[i * classCount + c]) - tau * Foundation.log(prior[c])
                    if score > bestScore { best = c; bestScore = score }
                }
                if best == Int(labels[i]) { correct[t][best] += 1 }
            }
        }
        return correct
    }

    /// Rows built to be hard: logits on a coarse lattice (many exact ties, at some τ too), near ties a float ulp apart,
    /// rows where the true class is −∞ or every class is, and crossings inside the grid.
    @Test(arguments: [UInt64(1), 2, 3])
    func theTallyIsThePlainArgmaxCountForCount(seed: UInt64) {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 9)
        let classCount = 37, rowCount = 3000
        let grid = stride(from: 0.0, through: 2.0, by: 0.05).map { $0 }
        // A long-tailed prior, some classes of exactly equal share (ties at every τ).
        var prior = (0 ..< classCount).map { c in Double(1 + (c * 7919) % 50) }
        prior[5] = prior[6]
        let total = prior.reduce(0, +)
        prior = prior.map { $0 / total }
        var logits = [Float](), labels = [Int32]()
        for i in 0 ..< rowCount {
            let y = Int(rng.next() % UInt64(classCount))
            labels.append(Int32(y))
            for c in 0 ..< classCount {
                let u = Double(rng.next() >> 11) / Double(1 << 53)
                var value: Float
                switch i % 6 {
                case 0: value = Float((u * 8).rounded(.down))                 // lattice: exact ties
                case 1: value = Float(10 + u) + (c == y ? 0 : Float(u < 0.5 ? 0 : 1).ulp) // near ties
                case 2: value = c == y ? -.infinity : Float(u * 5)             // the true class cannot win
                case 3: value = -.infinity                                     // nothing can: class 0 wins
                default: value = Float(u * 4) - (c == y ? 0 : 1)               // crossings as τ moves
                }
                logits.append(value)
            }
        }
        var tally = HeldOutTally(classCount: classCount, gridCount: grid.count)
        tally.add(logits: logits, labels: labels, prior: prior, grid: grid)
        let expected = Self.plain(logits: logits, labels: labels, prior: prior, grid: grid)
        #expect(tally.correct == expected)
        #expect(tally.rowCount == rowCount)
        // Not vacuous: some rows are right at some τ and wrong at others.
        #expect(Set(expected.map { $0.reduce(0, +) }).count > 3)
    }

    @Test func aNaNLogitFallsBackToThePlainRule() {
        let logits: [Float] = [1, .nan, 0.5, 2, 2, .infinity]
        var tally = HeldOutTally(classCount: 3, gridCount: 2)
        tally.add(logits: logits, labels: [0, 2], prior: [0.5, 0.3, 0.2], grid: [0, 1])
        #expect(tally.correct == Self.plain(logits: logits, labels: [0, 2], prior: [0.5, 0.3, 0.2], grid: [0, 1]))
    }
}
