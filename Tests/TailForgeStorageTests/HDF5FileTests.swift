import CHDF5
import Foundation
import Testing
@testable import TailForgeStorage
import TailForgeTestSupport

@Suite struct HDF5FileTests {
    @Test func genericDatasetsAndAttributesRoundTrip() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("model.h5")
        let weights: [Float] = (0..<12).map { Float($0) * 0.5 - 2 }
        let attributes: [String: AttributeValue] = [
            "name": .string("softmax ✓"), "empty": .string(""), "classes": .int(-3), "lambda": .double(1e-4),
        ]
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeDataset("weights", values: weights, shape: [3, 4], chunkRows: 2)
        try writer.writeDataset("bias", values: [Float(1), 2, 3], shape: [3])
        try writer.writeDataset("predicted", values: [Int32(2), 0, -1, 5, 7], shape: [5])
        try writer.writeDataset("rows", values: [Int64(1) << 40, 2, 3, 4], shape: [2, 2])
        try writer.writeDataset("flags", values: [UInt8(1), 0, 255], shape: [3])
        try writer.writeDataset("scores", values: [0.1, 0.2], shape: [2])
        try writer.writeStrings("names", ["x", "yy"])
        try writer.writeAttributes(attributes)
        #expect(!FileManager.default.fileExists(atPath: path))
        try writer.commit()

        let file = try HDF5File.open(path: path)
        #expect(try file.datasetNames == ["bias", "flags", "names", "predicted", "rows", "scores", "weights"])
        let readWeights = try file.readDataset("weights", as: Float.self)
        #expect(readWeights.values == weights && readWeights.shape == [3, 4])
        #expect(try file.readDataset("bias", as: Float.self).values == [1, 2, 3])
        #expect(try file.readDataset("predicted", as: Int32.self).values == [2, 0, -1, 5, 7])
        let rows = try file.readDataset("rows", as: Int64.self)
        #expect(rows.values == [1 << 40, 2, 3, 4] && rows.shape == [2, 2])
        #expect(try file.readDataset("flags", as: UInt8.self).values == [1, 0, 255])
        #expect(try file.readDataset("scores", as: Double.self).values == [0.1, 0.2])
        #expect(try file.openDataset("names").readStrings() == ["x", "yy"])
        #expect(try file.rootAttributes() == attributes)
        #expect(storageError { try file.readDataset("names", as: Float.self) }
            == .wrongElementClass(file: path, dataset: "names", expected: .float, actual: .string))
    }

    @Test func writeDatasetRejectsAShapeThatDoesNotFitTheValues() throws {
        let directory = TemporaryDirectory("storage")
        let writer = try AtomicHDF5Writer(path: directory.file("x.h5"))
        #expect(storageError { try writer.writeDataset("w", values: [Float(1), 2, 3], shape: [2, 2]) }
            == .invalidArgument("3 values for dataset /w of shape [2, 2]"))
    }

    /// A file shorter than HDF5 wrote it (an interrupted copy) is named as truncated, with its size, instead of
    /// HDF5's error stack.
    @Test func aTruncatedHDF5FileIsReportedAsTruncated() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("whole.h5")
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeDataset("data", values: [Float](repeating: 1, count: 4096), shape: [4096])
        try writer.commit()
        let truncated = directory.file("truncated.h5")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(200).write(to: URL(fileURLWithPath: truncated))
        let error = storageError { try HDF5File.open(path: truncated) }
        #expect(error == .truncatedFile(path: truncated, bytes: 200))
        #expect(error?.description.contains("is truncated: it has 200 bytes") == true)
    }

    /// A child process started while a file is open for writing inherits HDF5's descriptor (HDF5 does not open
    /// with `O_CLOEXEC`), and with it any `flock` on it. A writable open used to take an exclusive lock, so the
    /// file stayed unreadable ("unable to lock file, errno = 11") for the child's whole life, long after the
    /// writer closed it: CI failed that way once, when a test spawning daemons ran beside one editing a file.
    @Test func aChildStartedWhileAFileIsOpenForWritingDoesNotLockReadersOut() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("edited.h5")
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeDataset("data", values: [Float](repeating: 1, count: 16), shape: [16])
        try writer.commit()
        var child: pid_t = 0
        do {
            let file = try HDF5File.open(path: path, writable: true)
            // posix_spawn with no file actions: the child keeps every descriptor not marked close-on-exec.
            let arguments = ["/bin/sleep", "30"]
            var argv = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            #expect(posix_spawn(&child, "/bin/sleep", nil, nil, &argv, environ) == 0)
            try file.close()
        }
        defer { if child > 0 { kill(child, SIGKILL); var status: Int32 = 0; waitpid(child, &status, 0) } }
        #expect(try HDF5File.open(path: path).readDataset("data", as: Float.self).values.count == 16)
    }

    /// Many threads reading at once must be safe: the wrapper serialises them on one lock.
    @Test func concurrentReadsAreSerialisedSafely() async throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("shared.h5")
        let values = (0..<(64 * 8)).map { Float($0) }
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeDataset("embeddings", values: values, shape: [64, 8], chunkRows: 4)
        try writer.writeDataset("labels", values: [Int32](repeating: 0, count: 64), shape: [64])
        try writer.commit()
        let input = try LabeledEmbeddingsFile(path: path)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for start in stride(from: task, to: 60, by: 8) {
                        let rows = try input.readEmbeddings(rows: start..<(start + 4))
                        if rows != Array(values[(start * 8)..<((start + 4) * 8)]) { return false }
                    }
                    return true
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }
}
