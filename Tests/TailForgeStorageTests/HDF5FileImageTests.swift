import Foundation
import Testing
@testable import TailForgeStorage
import TailForgeTestSupport

/// Files built in memory (`AtomicHDF5Writer(inMemoryNamed:)`, `BalancedDatasetWriter(…, inMemory: true)`) end with
/// exactly the bytes the same calls leave on disk, so a digest of the image is the digest the file would have had
/// (a compact job's `shards[].sha256` is one).
@Suite struct HDF5FileImageTests {
    static let attributes: [String: AttributeValue] = [
        "format": .string("tailforge-shard-v1"), "tool_version": .string("0.2.0"), "job": .string("job-1"), "shard": .int(3),
        "input_sha256": .string(String(repeating: "ab", count: 32)), "layout": .string("compact"),
    ]

    /// Rows the compact layout accepts (real rows only) or the full layout's sample rows.
    static func rows(_ layout: BalancedLayout, count: Int, dimension: Int)
        -> (embeddings: [Float], labels: [Int32], isSynthetic: [UInt8], sourceIndex: [Int64], kappa: [Float]) {
        let sample = SampleRows(dimension: dimension, count: count)
        return (sample.embeddings, sample.labels, layout == .compact ? [UInt8](repeating: 0, count: count) : sample.isSynthetic,
                sample.sourceIndex, sample.kappa)
    }

    /// Writes the same rows, in the same batches, to disk or to memory; the bytes either way.
    static func balancedBytes(_ layout: BalancedLayout, count: Int, dimension: Int, chunkRows: Int, batches: [Int], inMemory: Bool,
                              directory: TemporaryDirectory) throws -> [UInt8] {
        let path = directory.file("\(layout)-\(count)-\(chunkRows).h5")
        let writer = try BalancedDatasetWriter(path: path, dimension: dimension, totalRows: count, attributes: attributes,
                                               classNames: layout == .full ? ["a", "b", "c"] : nil, chunkRows: chunkRows, layout: layout,
                                               classInputRows: [Int64(count), 0, 7], inMemory: inMemory)
        let all = rows(layout, count: count, dimension: dimension)
        var start = 0
        for size in batches {
            let range = start..<(start + size)
            try writer.append(embeddings: Array(all.embeddings[range.lowerBound * dimension..<range.upperBound * dimension]),
                              labels: Array(all.labels[range]), isSynthetic: Array(all.isSynthetic[range]),
                              sourceIndex: Array(all.sourceIndex[range]), kappa: Array(all.kappa[range]))
            start += size
        }
        // An attribute known only at commit, as a compact shard's probe digest.
        let closing: [String: AttributeValue] = ["synthetic_probe_sha256": .string(String(repeating: "cd", count: 32))]
        if inMemory {
            let image = try writer.commitImage(attributes: closing)
            let bytes = image.withUnsafeBytes { Array($0) }
            #expect(image.count == bytes.count && image.sha256 == SHA256.hexDigest(of: bytes))
            return bytes
        }
        try writer.commit(attributes: closing)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Both layouts; a last chunk that is partial, whole chunks, one row, no rows; d = 768 as the engine writes.
    @Test(arguments: [(BalancedLayout.compact, 37, 5, 8, [5, 19, 13]), (.compact, 1, 768, 4096, [1]), (.compact, 0, 16, 4096, []),
                      (.compact, 5000, 768, 4096, [4980, 20]), (.full, 21, 5, 8, [4, 9, 8]), (.full, 9000, 32, 4096, [9000])])
    func anInMemoryBalancedFileIsTheFileWriterBytes(layout: BalancedLayout, count: Int, dimension: Int, chunkRows: Int, batches: [Int]) throws {
        let directory = TemporaryDirectory("storage")
        let file = try Self.balancedBytes(layout, count: count, dimension: dimension, chunkRows: chunkRows, batches: batches, inMemory: false,
                                          directory: directory)
        let image = try Self.balancedBytes(layout, count: count, dimension: dimension, chunkRows: chunkRows, batches: batches, inMemory: true,
                                           directory: directory)
        #expect(image.count == file.count)
        #expect(image == file, "first difference at byte \(zip(image, file).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(image.count, file.count))")
        #expect(directory.contents.isEmpty, "the in-memory writer put nothing on disk")
    }

    /// The generic writer too: datasets of every element kind, strings, attributes.
    @Test func anInMemoryAtomicWriterIsTheFileWriterBytes() throws {
        let directory = TemporaryDirectory("storage")
        func build(_ writer: AtomicHDF5Writer) throws {
            try writer.writeDataset("weights", values: (0..<3000).map { Float($0) * 0.5 - 2 }, shape: [1000, 3], chunkRows: 256)
            try writer.writeDataset("rows", values: [Int64(1) << 40, 2, 3, 4], shape: [2, 2])
            try writer.writeDataset("flags", values: [UInt8(1), 0, 255], shape: [3])
            try writer.writeStrings("names", ["x", "yy", "ζ"])
            try writer.writeAttributes(["name": .string("softmax ✓"), "classes": .int(-3), "lambda": .double(1e-4)])
        }
        let path = directory.file("model.h5")
        let onDisk = try AtomicHDF5Writer(path: path)
        try build(onDisk)
        try onDisk.commit()
        let inMemory = try AtomicHDF5Writer(inMemoryNamed: "model")
        try build(inMemory)
        let image = try inMemory.commitImage()
        #expect(image.withUnsafeBytes { Array($0) } == Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(image.sha256 == (try SHA256.hexDigest(ofFileAt: path)))
    }

    /// Several in-memory files under one name at once (workers hash shards side by side): each is its own file,
    /// and none appears in the working directory under the core driver's name.
    @Test func inMemoryFilesUnderOneNameAreSeparateAndNeverOnDisk() throws {
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: FileManager.default.currentDirectoryPath)) ?? [])
        let writers = try (0..<3).map { _ in try AtomicHDF5Writer(inMemoryNamed: "shard.h5") }
        for (index, writer) in writers.enumerated() {
            try writer.writeDataset("values", values: [Int32(index), 1, 2], shape: [3])
        }
        let digests = try writers.map { try $0.commitImage().sha256 }
        #expect(Set(digests).count == 3)
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: FileManager.default.currentDirectoryPath)) ?? [])
        #expect(after.subtracting(before).filter { $0.contains("tailforge-memory") }.isEmpty)
    }

    /// The two kinds of writer finish only their own way; an abandoned in-memory writer gives nothing.
    @Test func eachWriterCommitsOnlyItsOwnWay() throws {
        let directory = TemporaryDirectory("storage")
        let inMemory = try AtomicHDF5Writer(inMemoryNamed: "x.h5")
        #expect(storageError { try inMemory.commit() } == .invalidArgument("commit of the in-memory file x.h5: take its bytes with commitImage()"))
        let onDisk = try AtomicHDF5Writer(path: directory.file("y.h5"))
        #expect(storageError { _ = try onDisk.commitImage() }
            == .invalidArgument("commitImage of \(directory.file("y.h5")), which is written to disk: use commit()"))
        onDisk.abandon()
        let abandoned = try AtomicHDF5Writer(inMemoryNamed: "z.h5")
        try abandoned.writeDataset("values", values: [Float(1)], shape: [1])
        abandoned.abandon()
        #expect(storageError { _ = try abandoned.commitImage() } == .invalidArgument("commit of a writer for z.h5 that is already closed"))
        #expect(directory.contents.isEmpty)
    }
}
