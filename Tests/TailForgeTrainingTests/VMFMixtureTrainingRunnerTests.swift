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
