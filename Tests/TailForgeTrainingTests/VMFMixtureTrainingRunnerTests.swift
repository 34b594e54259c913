import Foundation
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// `train --classifier vmf-mixture` in the library: only real rows are fitted, so a balanced file (either layout, the
/// same bits) trains the mixture its long-tailed input trains, and the file records what it did.
@Suite struct VMFMixtureTrainingRunnerTests {
    static let settings = VMFMixtureSelectionSettings(maxModesGrid: [1, 2], priorConcentrationMultiples: [1, 2], calibrate: true, folds: 3, seed: 9)

    @Test func aBalancedFileTrainsTheMixtureOfItsRealRows() async throws {
        let dir = TemporaryDirectory("mixture-runner")
        let (full, compact) = try CompactTrainingTests.balancedPair(dir)
        var parameters: [[UInt64]] = []
        for (index, input) in [dir.file("train.h5"), full, compact].enumerated() {
            let summary = try await VMFMixtureTrainingRunner(inputs: [input], output: dir.file("m\(index).h5"), settings: Self.settings, threads: 2).run()
            #expect(summary.rows == 432, "the long tail's 300 + 90 + 30 + 9 + 3 real rows")
            #expect(summary.syntheticRowsLeftOut == (index == 0 ? 0 : 5 * 300 - 432))
            let loaded = try VMFMixtureModelFile.read(path: dir.file("m\(index).h5"))
            #expect(loaded.classNames == ["a", "b", "c", "d", "e"])
            #expect(loaded.attributes["synthetic_rows_left_out"]?.intValue == Int64(summary.syntheticRowsLeftOut))
            #expect(loaded.selection == summary.record && loaded.adjustment == summary.adjustment)
            parameters.append(loaded.model.modeParameters.map(\.bitPattern) + loaded.model.classKappa.map(\.bitPattern))
        }
        // Both layouts give the same bits. The balanced rows are the input's unit rows scaled again on load (as every
        // reader scales rows), which can move a float32 row by an ulp: against the long-tailed file the parameters agree
        // to about float32 resolution (a k-means tie broken otherwise would show as a far larger difference).
        #expect(parameters[2] == parameters[1])
        let raw = parameters[0].map(Double.init(bitPattern:)), balanced = parameters[1].map(Double.init(bitPattern:))
        #expect(zip(raw, balanced).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) })
    }

    /// A training file that lists rows twice (a class entirely of one repeated row among them) trains the model its
    /// distinct rows train, bit for bit, and `train` says how many rows it dropped; without duplicates it says nothing.
    @Test func duplicateRowsAreDroppedAndCounted() async throws {
        let dir = TemporaryDirectory("mixture-duplicates")
        let (data, labels) = vmfLongTail(counts: [60, 30, 12, 1], dimension: 8, kappa: 8, seed: 6)
        var order = Array(0 ..< labels.count)
        order += order.filter { $0 % 4 == 0 }
        // Class 3's single row, listed four times in all: still one distinct row.
        order += Array(repeating: labels.firstIndex(of: 3)!, count: 3)
        let duplicates = order.count - labels.count
        try writeLabeledFile(dir.file("distinct.h5"), data, labels)
        try writeLabeledFile(dir.file("repeated.h5"), data.gatherRows(order), order.map { labels[$0] })
        var parameters: [[UInt64]] = [], printed: [[String]] = []
        for name in ["distinct", "repeated"] {
            let summary = try await VMFMixtureTrainingRunner(inputs: [dir.file(name + ".h5")], output: dir.file(name + "-model.h5"),
                                                             settings: Self.settings, threads: 2).run()
            #expect(summary.duplicateRowsLeftOut == (name == "distinct" ? 0 : duplicates))
            let loaded = try VMFMixtureModelFile.read(path: dir.file(name + "-model.h5"))
            #expect(loaded.attributes["training_rows"]?.intValue == Int64(labels.count), "the distinct rows fitted")
            parameters.append(loaded.model.modeParameters.map(\.bitPattern) + loaded.model.classKappa.map(\.bitPattern))
            printed.append(summary.lines(output: name + "-model.h5"))
        }
        #expect(parameters[1] == parameters[0])
        #expect(!printed[0].joined().contains("duplicate"))
        #expect(printed[1].contains { $0.contains("\(duplicates) duplicate rows left out (fitted on the \(labels.count) distinct rows)") },
                "\(printed[1])")
    }

    /// A class named in /class_names with no rows is an error naming the input file, not "training rows".
    @Test func aClassWithoutRowsIsNamedWithItsFile() async throws {
        let dir = TemporaryDirectory("mixture-empty-class")
        let (data, labels) = vmfLongTail(counts: [20, 10], dimension: 8, kappa: 8, seed: 5)
        try writeLabeledFile(dir.file("train.h5"), data, labels, classNames: ["a", "b", "c"])
        await #expect(throws: TrainingError.emptyClass(shard: dir.file("train.h5"), classIndex: 2, classCount: 3)) {
            _ = try await VMFMixtureTrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("m.h5"), settings: Self.settings, threads: 1).run()
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("m.h5")))
    }
}
