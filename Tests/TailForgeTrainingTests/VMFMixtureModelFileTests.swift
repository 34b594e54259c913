import Foundation
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// The vMF mixture model file: every parameter reads back bit for bit with its logit adjustment and the record of
/// the cross-validated choice; a softmax model is not taken for a mixture nor the other way round; a refused write
/// leaves nothing.
@Suite struct VMFMixtureModelFileTests {
    /// Three classes with 2, 1 and 3 modes in d = 5, values that do not round-trip through float32.
    static func model() throws -> VMFMixtureModel {
        var rng = Xoshiro256PlusPlus(seed: 5, stream: 0)
        let offsets = [0, 2, 3, 6], d = 5
        let parameters = (0 ..< 6 * d).map { _ in StandardNormal.next(using: &rng) * 40 + 1e-9 }
        let logWeights = [-log(2.0), -log(2.0), 0, -log(3.0), -log(3.0), -log(3.0)]
        return try VMFMixtureModel(classCount: 3, dimension: d, modeOffsets: offsets, modeParameters: parameters,
                                   modeLogWeights: logWeights, classKappa: [12.25, 3.0000000001, 71.5])
    }

    static func metadata(tau: Double = 0.35) throws -> VMFMixtureModelFile.Metadata {
        let tauGrid = CalibrationSettings.standardGrid
        let selection = VMFMixtureSelectionRecord(
            maxModesGrid: [2, 3], priorConcentrationMultiples: [0.5, 1.5], tauGrid: tauGrid, folds: 4, seed: 1 << 63 + 7,
            balancedAccuracies: (0 ..< 2 * 2 * tauGrid.count).map { Double($0) / 1000 + 0.1 / 3 },
            maxModes: 3, priorConcentrationMultiple: 1.5, tau: tau)
        return VMFMixtureModelFile.Metadata(
            selection: selection, adjustment: try LogitAdjustment(tau: tau, prior: [0.7, 0.2, 0.1]), trainingRows: 120,
            syntheticRowsLeftOut: 33, inputFiles: ["train.h5"], inputSHA256: [String(repeating: "ab", count: 32)],
            classNames: ["cat", "dog", "émeu"])
    }

    @Test func everyParameterReadsBackBitForBitWithItsChoice() throws {
        let dir = TemporaryDirectory("mixture-file")
        let model = try Self.model(), metadata = try Self.metadata()
        try VMFMixtureModelFile.write(model, metadata: metadata, to: dir.file("model.h5"))
        let loaded = try VMFMixtureModelFile.read(path: dir.file("model.h5"))
        #expect(loaded.model.modeParameters.map(\.bitPattern) == model.modeParameters.map(\.bitPattern))
        #expect(loaded.model.modeLogWeights.map(\.bitPattern) == model.modeLogWeights.map(\.bitPattern))
        #expect(loaded.model.classKappa.map(\.bitPattern) == model.classKappa.map(\.bitPattern))
        #expect(loaded.model.modeOffsets == model.modeOffsets)
        #expect(loaded.model == model)
        #expect(loaded.adjustment == metadata.adjustment)
        #expect(loaded.selection == metadata.selection)
        #expect(loaded.classNames == metadata.classNames)
        #expect(loaded.adjustment(applyCalibration: false) == nil && loaded.adjustment(applyCalibration: true)?.tau == 0.35)
        let a = loaded.attributes
        #expect(a["format"]?.stringValue == "tailforge-vmf-mixture-model" && a["format_version"]?.intValue == 1)
        #expect(a["mixture_max_modes"]?.intValue == 3 && a["mixture_prior_concentration"]?.doubleValue == 7.5)
        #expect(a["selection_folds"]?.intValue == 4 && a["training_rows"]?.intValue == 120 && a["synthetic_rows_left_out"]?.intValue == 33)
        #expect(a["tool_version"]?.stringValue == ToolVersion.current && a["input_sha256"]?.stringValue == metadata.inputSHA256[0])
        // The chosen setting's τ column is what the softmax reader's calibration datasets hold.
        #expect(loaded.selection.chosenAccuracies.count == CalibrationSettings.standardGrid.count)
        #expect(loaded.selection.balancedAccuracy == loaded.selection.chosenAccuracies[7])
        // The same training writes the same bytes.
        try VMFMixtureModelFile.write(model, metadata: metadata, to: dir.file("again.h5"))
        #expect(try SHA256.hexDigest(ofFileAt: dir.file("model.h5")) == SHA256.hexDigest(ofFileAt: dir.file("again.h5")))
    }

    @Test func eitherModelTypeIsReadByTheDispatcherAndRefusedByTheOthersReader() async throws {
        let dir = TemporaryDirectory("mixture-type")
        try VMFMixtureModelFile.write(try Self.model(), metadata: try Self.metadata(), to: dir.file("mixture.h5"))
        let (data, labels) = clusteredProblem(rows: 60, dimension: 5, classCount: 3, spread: 0.3, seed: 2)
        try writeLabeledFile(dir.file("train.h5"), data, labels)
        _ = try await TrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("softmax.h5"),
                                     settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 3)), threads: 1).run()
        #expect(try TrainedModelFile.read(path: dir.file("mixture.h5")).type == .vmfMixture)
        #expect(try TrainedModelFile.read(path: dir.file("softmax.h5")).type == .softmax)
        let asMixture = ModelFileError.wrongModelType(path: dir.file("softmax.h5"), found: .softmax, expected: .vmfMixture)
        #expect(throws: asMixture) { try VMFMixtureModelFile.read(path: dir.file("softmax.h5")) }
        #expect(throws: ModelFileError.wrongModelType(path: dir.file("mixture.h5"), found: .vmfMixture, expected: .softmax)) {
            try SoftmaxModelFile.read(path: dir.file("mixture.h5"))
        }
        #expect(asMixture.description.contains("is a TailForge softmax (logistic-regression) model (`train --classifier softmax`), not a generative vMF mixture model"))
        #expect(throws: ModelFileError.notATailForgeModel(path: dir.file("train.h5"), format: nil)) {
            try TrainedModelFile.read(path: dir.file("train.h5"))
        }
    }

    @Test func evaluateAndPredictApplyTheStoredAdjustmentUnlessToldNotTo() throws {
        let dir = TemporaryDirectory("mixture-apply")
        let (data, labels) = vmfLongTail(counts: [120, 40, 8], dimension: 6, kappa: 6, seed: 3)
        let fit = try VMFMixtureFitter.fit(rows: data, labels: labels, classCount: 3,
                                           settings: VMFMixtureSettings(maxModes: 2, priorConcentration: 6, seed: 1), threads: 1)
        var metadata = try Self.metadata(tau: 1)
        metadata.adjustment = try LogitAdjustment(tau: 1, prior: LogitAdjustment.prior(classCounts: [120, 40, 8]))
        try VMFMixtureModelFile.write(fit.model, metadata: metadata, to: dir.file("model.h5"))
        // The same classes (vmfLongTail's means do not depend on the seed), balanced, as raw rows of another length:
        // every reader scales them to unit length.
        let (testData, testLabels) = vmfLongTail(counts: [10, 10, 10], dimension: 6, kappa: 6, seed: 4)
        try writeLabeledFile(dir.file("test.h5"), Matrix(rows: testData.rows, columns: testData.columns, storage: testData.storage.map { $0 * 7.5 }),
                             testLabels)
        var unit = testData
        try RowNormalization.normalizeRows(&unit)
        for calibrated in [false, true] {
            let evaluation = try EvaluationRunner(model: dir.file("model.h5"), test: dir.file("test.h5"), applyCalibration: calibrated).run()
            #expect(evaluation.modelType == .vmfMixture)
            #expect(evaluation.logitAdjustmentTau == (calibrated ? 1 : nil))
            let expected = try fit.model.predict(unit, adjustment: calibrated ? metadata.adjustment : nil, source: "test")
            #expect(evaluation.correct == zip(expected, testLabels).filter { $0 == $1 }.count)
            let output = dir.file("p\(calibrated).h5")
            try PredictionRunner(model: dir.file("model.h5"), input: dir.file("test.h5"), output: output, k: 2, applyCalibration: calibrated).run()
            let file = try HDF5File.open(path: output)
            #expect(try file.readDataset("labels", as: Int32.self).values == expected)
            #expect(try file.rootAttributes()["model_type"]?.stringValue == "vmf-mixture")
            #expect(try file.rootAttributes()["logit_adjustment_tau"]?.doubleValue == (calibrated ? 1 : nil))
        }
    }

    @Test func aWriteThatIsRefusedLeavesNothing() throws {
        let dir = TemporaryDirectory("mixture-refused")
        var metadata = try Self.metadata()
        metadata.adjustment = try LogitAdjustment(tau: 0.35, prior: [0.5, 0.5])
        #expect(throws: StorageError.self) { try VMFMixtureModelFile.write(try Self.model(), metadata: metadata, to: dir.file("model.h5")) }
        #expect(dir.contents == [])
    }

    @Test func damageIsNamed() throws {
        let dir = TemporaryDirectory("mixture-damaged")
        let model = try Self.model()
        let writer = try AtomicHDF5Writer(path: dir.file("model.h5"))
        try writer.writeAttributes(["format": .string(VMFMixtureModelFile.format), "format_version": .int(1), "class_count": .int(3), "dimension": .int(5)])
        try writer.writeDataset("mode_parameters", values: model.modeParameters, shape: [6, 5])
        try writer.writeDataset("mode_offsets", values: [Int64(0), 2, 3], shape: [3])
        try writer.writeDataset("mode_log_weights", values: model.modeLogWeights, shape: [6])
        try writer.writeDataset("class_kappa", values: model.classKappa, shape: [3])
        try writer.commit()
        #expect {
            try VMFMixtureModelFile.read(path: dir.file("model.h5"))
        } throws: { error in
            guard case ModelFileError.corrupt(_, let reason) = error else { return false }
            return reason.contains("/mode_offsets [3]")
        }
        let newer = try AtomicHDF5Writer(path: dir.file("newer.h5"))
        try newer.writeAttributes(["format": .string(VMFMixtureModelFile.format), "format_version": .int(2)])
        try newer.commit()
        #expect(throws: ModelFileError.unsupportedVersion(path: dir.file("newer.h5"), version: 2, supported: 1)) {
            try VMFMixtureModelFile.read(path: dir.file("newer.h5"))
        }
    }
}
