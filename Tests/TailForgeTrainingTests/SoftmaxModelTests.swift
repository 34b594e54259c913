import Testing
import TailForgeNumerics
@testable import TailForgeTraining

@Suite struct SoftmaxModelTests {
    // Three classes scoring x₀, x₁ and 0.5: row 0 prefers class 0, row 1 class 1, row 2 ties 0 and 1.
    let model = SoftmaxModel(classCount: 3, dimension: 2, weights: [1, 0, 0, 1, 0, 0], bias: [0, 0, 0.5])
    let rows = Matrix(rows: 3, columns: 2, storage: [2, 0, 0, 2, 1, 1])

    @Test func topKIsSortedWithTiesToTheLowerClassAndSoftmaxProbabilities() throws {
        let top = try model.topK(rows, k: 2)
        #expect(top.labels == [0, 2, 1, 2, 0, 1])
        #expect(top.top1 == (try model.predict(rows)))
        // Row 0 scores (2, 0, 0.5): p₀ = e²/(e² + 1 + e^0.5).
        let e2 = Float(7.389056), e05 = Float(1.6487213)
        #expect(abs(top.probabilities[0] - e2 / (e2 + 1 + e05)) < 1e-6)
        #expect(abs(top.probabilities[4] - top.probabilities[5]) == 0)
    }

    @Test func topKIsCappedAtTheClassCount() throws {
        let top = try model.topK(rows, k: 10)
        #expect(top.k == 3)
        for r in 0 ..< 3 {
            let sum = top.probabilities[3 * r ..< 3 * r + 3].reduce(0, +)
            #expect(abs(sum - 1) < 1e-6)
        }
    }

    @Test func predictionsCoverManyBlocks() throws {
        // More rows than one scoring block, so block boundaries are exercised.
        let n = SoftmaxModel.blockRows + 7
        var storage = [Float]()
        for i in 0 ..< n { storage += i % 2 == 0 ? [1, 0] : [0, 1] }
        let labels = try model.predict(Matrix(rows: n, columns: 2, storage: storage))
        #expect(labels == (0 ..< n).map { Int32($0 % 2) })
    }
}

@Suite struct EvaluationTests {
    @Test func groupsClassesByTrainingCount() throws {
        let evaluation = try Evaluation(predictions: [0, 0, 1, 2, 2, 0], labels: [0, 0, 1, 1, 2, 2], classCount: 3,
                                        trainingCounts: [101, 100, 19], classNames: ["a", "b", "c"])
        #expect(evaluation.correct == 4)
        #expect(evaluation.top1Accuracy == 4.0 / 6.0)
        #expect(evaluation.perClass.map(\.group) == [.many, .medium, .few])
        #expect(evaluation.perClass.map(\.accuracy) == [1, 0.5, 0.5])
        #expect(evaluation.groups?.map(\.accuracy) == [1, 0.5, 0.5])
        #expect(evaluation.groups?.map(\.classes) == [1, 1, 1])
        #expect(evaluation.table().contains("few"))
        #expect(evaluation.table().contains("66.67"))
    }

    @Test func classesWithoutTestSamplesHaveNoAccuracy() throws {
        let evaluation = try Evaluation(predictions: [0, 1], labels: [0, 0], classCount: 2)
        #expect(evaluation.perClass[1].accuracy == nil)
        #expect(evaluation.meanClassAccuracy == 0.5)
        #expect(evaluation.groups == nil)
    }
}
