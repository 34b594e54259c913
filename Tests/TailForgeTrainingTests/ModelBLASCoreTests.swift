import Foundation
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// The model records the OpenBLAS kernel family its fit ran on (`blas_core`), and models without it still read.
@Suite struct ModelBLASCoreTests {
    static let model = SoftmaxModel(classCount: 2, dimension: 3, weights: [1, 0, 0, 0, 1, 0], bias: [0.5, -0.5])

    static func metadata(blasCore: String? = nil) -> SoftmaxModelFile.Metadata {
        let report = LBFGSReport(converged: true, reason: .gradientTolerance, iterations: 3, finalLoss: 0.25, gradientNorm: 1e-6,
                                 initialGradientNorm: 1, evaluations: 4, seconds: 0)
        let settings = TrainingSettings(l2: 1e-3)
        if let blasCore {
            return .init(settings: settings, report: report, trainingRows: 10, blockRows: 8, inputFiles: ["a.h5"],
                         inputSHA256: [String(repeating: "a", count: 64)], classNames: nil, blasCore: blasCore)
        }
        return .init(settings: settings, report: report, trainingRows: 10, blockRows: 8, inputFiles: ["a.h5"],
                     inputSHA256: [String(repeating: "a", count: 64)], classNames: nil)
    }

    @Test func theModelRecordsThisProcesssKernelByDefaultAndAGivenOne() throws {
        let scratch = TemporaryDirectory("model-blas-core")
        let directory = scratch.path
        try SoftmaxModelFile.write(Self.model, metadata: Self.metadata(), to: directory + "/default.h5")
        let loaded = try SoftmaxModelFile.read(path: directory + "/default.h5")
        #expect(loaded.blasCore == BLAS.coreName && !BLAS.coreName.isEmpty)
        #expect(loaded.attributes["blas_core"]?.stringValue == BLAS.coreName)
        #expect(loaded.attributes["format_version"]?.intValue == SoftmaxModelFile.formatVersion, "no version change for the attribute")

        try SoftmaxModelFile.write(Self.model, metadata: Self.metadata(blasCore: "Haswell"), to: directory + "/haswell.h5")
        #expect(try SoftmaxModelFile.read(path: directory + "/haswell.h5").blasCore == "Haswell")
    }

    @Test func aModelWrittenBeforeTheKernelWasRecordedStillReads() throws {
        let scratch = TemporaryDirectory("model-blas-core")
        let directory = scratch.path
        // A version-2 model as an older tailforge wrote it: every attribute but blas_core.
        let writer = try AtomicHDF5Writer(path: directory + "/old.h5")
        try writer.writeAttributes([
            "format": .string(SoftmaxModelFile.format), "format_version": .int(2), "class_count": .int(2), "dimension": .int(3),
            "l2": .double(1e-3), "class_weighting": .string("none"), "input_normalization": .string("l2"),
        ])
        try writer.writeDataset("weights", values: Self.model.weights, shape: [2, 3])
        try writer.writeDataset("bias", values: Self.model.bias, shape: [2])
        _ = try writer.commit()
        let loaded = try SoftmaxModelFile.read(path: directory + "/old.h5")
        #expect(loaded.blasCore == nil)
        #expect(loaded.model.weights == Self.model.weights && loaded.model.bias == Self.model.bias)
    }
}
