import CHDF5
import Foundation
import Testing
@testable import TailForgeStorage
import TailForgeTestSupport

@Suite struct BalancedDatasetWriterTests {
    static let attributes: [String: AttributeValue] = [
        "tool_version": .string("0.1.0"), "seed": .int(42), "sampler": .string("vmf"),
        "kappa_policy": .string("local"), "target_policy": .string("max"),
        "input_sha256": .string(String(repeating: "ab", count: 32)), "kappa_min": .double(1e-3),
    ]

    private func write(
        _ rows: SampleRows, to path: String, batches: [Int], chunkRows: Int = 8,
        classNames: [String]? = ["a", "b", "c"]
    ) throws {
        let writer = try BalancedDatasetWriter(
            path: path, dimension: rows.dimension, totalRows: rows.count, attributes: Self.attributes,
            classNames: classNames, chunkRows: chunkRows)
        try append(rows, to: writer, batches: batches)
        try writer.commit()
    }

    @Test func roundTripsTheOutputContract() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("out.h5")
        let rows = SampleRows(dimension: 5, count: 21)
        try write(rows, to: path, batches: [4, 9, 8])
        #expect(directory.contents == ["out.h5"])
        let output = try BalancedDatasetFile(path: path)
        #expect(output.count == 21)
        #expect(output.dimension == 5)
        #expect(output.classNames == ["a", "b", "c"])
        #expect(output.attributes == Self.attributes)
        #expect(try output.readEmbeddings(rows: 0..<21) == rows.embeddings)
        #expect(try output.readEmbeddings(rows: 7..<9) == Array(rows.embeddings[35..<45]))
        #expect(try output.readLabels() == rows.labels)
        #expect(try output.readIsSynthetic() == rows.isSynthetic)
        #expect(try output.readSourceIndex() == rows.sourceIndex)
        #expect(try output.readKappa() == rows.kappa)
        let file = try HDF5File.open(path: path)
        #expect(try file.datasetNames == ["class_names", "embeddings", "is_synthetic", "kappa", "labels", "source_index"])
        let embeddings = try file.openDataset("embeddings")
        #expect(embeddings.shape == [21, 5])
    }

    @Test func bytesDoNotDependOnHowAppendsAreBatched() throws {
        let directory = TemporaryDirectory("storage")
        let rows = SampleRows(dimension: 5, count: 37)
        // Whole chunks are written straight from an append, heads and tails through the pending buffer: batches
        // that complete a pending chunk and then hold whole chunks and a tail ([5, 19, 13]) exercise all three.
        let batchings: [[Int]] = [[37], Array(repeating: 1, count: 37), [3, 10, 0, 7, 17], [8, 8, 8, 8, 5], [20, 17],
                                  [5, 19, 13], [16, 21], [7, 1, 24, 5]]
        var digests: [String] = []
        for (index, batches) in batchings.enumerated() {
            let path = directory.file("out\(index).h5")
            try write(rows, to: path, batches: batches)
            digests.append(try SHA256.hexDigest(ofFileAt: path))
        }
        #expect(Set(digests).count == 1, "digests: \(digests)")
        // Different data must give a different file, or the comparison above proves nothing.
        try write(SampleRows(dimension: 5, count: 37), to: directory.file("other.h5"), batches: [37], classNames: ["x", "b", "c"])
        #expect(try SHA256.hexDigest(ofFileAt: directory.file("other.h5")) != digests[0])
    }

    @Test func commitDigestsTheFileItPutsInPlaceWhenAsked() throws {
        let directory = TemporaryDirectory("storage")
        let rows = SampleRows(dimension: 5, count: 37)
        for digesting in [true, false] {
            let path = directory.file("out-\(digesting).h5")
            let writer = try BalancedDatasetWriter(path: path, dimension: 5, totalRows: 37, attributes: Self.attributes,
                                                   classNames: nil, chunkRows: 8)
            try append(rows, to: writer, batches: [37])
            let digest = try writer.commit(attributes: ["late": .string("known at commit")], digestingFile: digesting)()
            let expected = try digesting ? SHA256.hexDigest(ofFileAt: path) : nil
            #expect(digest == expected)
        }
        #expect(directory.contents == ["out-false.h5", "out-true.h5"])
    }

    /// Little-endian bytes built element by element, independently of the writer's raw-memory hashing.
    private static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { value in (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value.littleEndian >> (8 * $0)) } }
    }

    @Test func contentDigestsAreOfTheRowsAsHandedOverWhateverTheChunking() throws {
        let directory = TemporaryDirectory("storage")
        let rows = SampleRows(dimension: 5, count: 37)
        let expected = [
            "embeddings": SHA256.hexDigest(of: Self.littleEndianBytes(rows.embeddings.map(\.bitPattern))),
            "labels": SHA256.hexDigest(of: Self.littleEndianBytes(rows.labels)),
            "is_synthetic": SHA256.hexDigest(of: rows.isSynthetic),
            "source_index": SHA256.hexDigest(of: Self.littleEndianBytes(rows.sourceIndex)),
            "kappa": SHA256.hexDigest(of: Self.littleEndianBytes(rows.kappa.map(\.bitPattern))),
        ]
        var fileDigests: Set<String> = []
        for (chunkRows, batches) in [(8, [37]), (3, [3, 10, 0, 7, 17]), (37, Array(repeating: 1, count: 37))] {
            let path = directory.file("out-\(chunkRows).h5")
            let writer = try BalancedDatasetWriter(path: path, dimension: 5, totalRows: 37, attributes: Self.attributes,
                                                   classNames: nil, chunkRows: chunkRows)
            try append(rows, to: writer, batches: batches)
            #expect(writer.contentDigests == nil, "only a committed output has digests")
            try writer.commit()
            #expect(writer.contentDigests == expected, "chunkRows \(chunkRows)")
            // The same digests from the file as HDF5 stored it.
            #expect(try BalancedContentDigest.compute(ofFileAt: path, blockRows: 4) == expected)
            fileDigests.insert(try SHA256.hexDigest(ofFileAt: path))
        }
        // The chunking changes the file's bytes, so only the content digest can say these hold the same rows.
        #expect(fileDigests.count == 3)
        #expect(BalancedContentDigest.problem(in: expected) == nil)
    }

    @Test func contentDigestsTellDifferentRowsApart() throws {
        let directory = TemporaryDirectory("storage")
        let rows = SampleRows(dimension: 5, count: 12)
        let writer = try BalancedDatasetWriter(path: directory.file("a.h5"), dimension: 5, totalRows: 12, attributes: Self.attributes, classNames: nil)
        try append(rows, to: writer, batches: [12])
        try writer.commit()
        var kappa = rows.kappa
        kappa[11] = kappa[11].nextUp
        let other = try BalancedDatasetWriter(path: directory.file("b.h5"), dimension: 5, totalRows: 12, attributes: Self.attributes, classNames: nil)
        try other.append(embeddings: rows.embeddings, labels: rows.labels, isSynthetic: rows.isSynthetic, sourceIndex: rows.sourceIndex, kappa: kappa)
        try other.commit()
        let a = try #require(writer.contentDigests), b = try #require(other.contentDigests)
        #expect(BalancedContentDigest.datasetNames.filter { a[$0] != b[$0] } == ["kappa"])
    }

    @Test func malformedContentDigestsAreNamed() {
        let good = Dictionary(uniqueKeysWithValues: BalancedContentDigest.datasetNames.map { ($0, String(repeating: "0a", count: 32)) })
        var missing = good
        missing["kappa"] = nil
        #expect(BalancedContentDigest.problem(in: missing)?.contains("no digest for dataset `kappa`") == true)
        var unknown = good
        unknown["weights"] = good["kappa"]
        #expect(BalancedContentDigest.problem(in: unknown)?.contains("`weights`") == true)
        var short = good
        short["labels"] = "abc"
        #expect(BalancedContentDigest.problem(in: short)?.contains("64 lower-case hexadecimal digits") == true)
    }

    @Test func recordsNoObjectTimes() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("out.h5")
        try write(SampleRows(dimension: 3, count: 10), to: path, batches: [10])
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let file = H5Fopen(path, tf_H5F_ACC_RDONLY(), tf_H5P_DEFAULT())
        defer { _ = H5Fclose(file) }
        for object in [".", "embeddings", "labels", "is_synthetic", "source_index", "kappa", "class_names"] {
            var info = H5O_info_t()
            #expect(H5Oget_info_by_name2(file, object, &info, UInt32(H5O_INFO_TIME), tf_H5P_DEFAULT()) >= 0)
            #expect(info.ctime == 0 && info.mtime == 0 && info.btime == 0, "object \(object) has times")
        }
    }

    @Test func emptyOutputAndNoClassNamesAreAllowed() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("empty.h5")
        try write(SampleRows(dimension: 4, count: 0), to: path, batches: [], classNames: nil)
        let output = try BalancedDatasetFile(path: path)
        #expect(output.count == 0 && output.dimension == 4 && output.classNames == nil)
        #expect(try output.readLabels() == [])
    }

    @Test func releasingWithoutCommitLeavesNothingBehind() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("out.h5")
        do {
            let writer = try BalancedDatasetWriter(
                path: path, dimension: 3, totalRows: 20, attributes: [:], classNames: nil, chunkRows: 4)
            try append(SampleRows(dimension: 3, count: 20), to: writer, batches: [9])
            #expect(directory.contents.count == 1 && directory.contents[0].hasPrefix(".out.h5.tmp-"))
        }
        #expect(directory.contents == [])
        let writer = try BalancedDatasetWriter(path: path, dimension: 3, totalRows: 2, attributes: [:], classNames: nil)
        writer.abandon()
        #expect(directory.contents == [])
    }

    @Test func rowCountMustMatchTheAnnouncedTotal() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("out.h5")
        let writer = try BalancedDatasetWriter(path: path, dimension: 3, totalRows: 10, attributes: [:], classNames: nil)
        let rows = SampleRows(dimension: 3, count: 11)
        try append(rows, to: writer, batches: [6])
        #expect(storageError { try writer.commit() } == .wrongRowCount(path: path, expected: 10, actual: 6))
        #expect(storageError { try append(rows, to: writer, batches: [5]) } == .wrongRowCount(path: path, expected: 10, actual: 11))
        #expect(storageError {
            try writer.append(embeddings: [1, 2], labels: [0], isSynthetic: [0], sourceIndex: [0], kappa: [0])
        } == .invalidArgument(
            "append to \(path): 1 labels but 2 embedding values (d = 3), 1 is_synthetic, 1 source_index, 1 kappa"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func unwritableOutputIsReportedBeforeAnyWork() throws {
        let directory = TemporaryDirectory("storage")
        let missing = directory.file("no/such/dir/out.h5")
        #expect(storageError { try BalancedDatasetWriter.checkWritable(path: missing) }
            == .outputDirectoryMissing(path: missing, directory: directory.file("no/such/dir")))
        #expect(storageError {
            try BalancedDatasetWriter(path: missing, dimension: 2, totalRows: 1, attributes: [:], classNames: nil)
        } == .outputDirectoryMissing(path: missing, directory: directory.file("no/such/dir")))
        if case .outputNotWritable = storageError({ try BalancedDatasetWriter.checkWritable(path: directory.path) }) {
        } else {
            Issue.record("a directory as output path must be refused")
        }
        try BalancedDatasetWriter.checkWritable(path: directory.file("fine.h5"))
        try Data().write(to: URL(fileURLWithPath: directory.file("plain")))
        #expect(storageError { try BalancedDatasetWriter.checkWritable(path: directory.file("plain/out.h5")) }
            == .outputNotWritable(path: directory.file("plain/out.h5"), reason: "\(directory.file("plain")) is a file, not a directory"))
        guard let readOnly = ScratchMount(size: "64k", readOnly: true) else { return }
        let error = storageError { try BalancedDatasetWriter.checkWritable(path: readOnly.file("out.h5")) }
        guard case .outputNotWritable(let path, let reason) = error else {
            Issue.record("expected outputNotWritable, got \(String(describing: error))")
            return
        }
        #expect(path == readOnly.file("out.h5"))
        #expect(reason.contains("Read-only"))
    }

    /// Chunks of 256 rows fill the disk during `append`; one chunk of all 4,000 rows fills it during `commit`.
    @Test(arguments: [256, 4_000])
    func diskFullDuringWriteFailsCleanly(chunkRows: Int) throws {
        guard let mount = ScratchMount(size: "1m") else { return }
        let path = mount.file("out.h5")
        // 4,000 rows × 64 floats ≈ 1 MiB of embeddings alone: more than the file system holds.
        let rows = SampleRows(dimension: 64, count: 4_000)
        let error = storageError { try write(rows, to: path, batches: [1_000, 1_000, 1_000, 1_000], chunkRows: chunkRows) }
        guard case .writeFailed(let failedPath, let underlying) = error else {
            Issue.record("expected writeFailed, got \(String(describing: error))")
            return
        }
        #expect(failedPath == path)
        #expect(!underlying.stack.isEmpty)
        #expect(error?.description.contains("disk full") == true)
        #expect(mount.contents == [])
    }
}

@Suite struct OutputPathTests {
    @Test func outputThatIsTheInputIsRefusedHoweverSpelled() throws {
        let directory = TemporaryDirectory("storage")
        let input = directory.file("in.h5")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: input))
        try FileManager.default.createSymbolicLink(atPath: directory.file("link.h5"), withDestinationPath: input)
        for spelling in [input, directory.path + "/./in.h5", directory.file("link.h5")] {
            #expect(storageError { try BalancedDatasetWriter.checkWritable(path: spelling, distinctFrom: [input]) }
                == .outputIsInput(path: spelling, input: input))
        }
        try BalancedDatasetWriter.checkWritable(path: directory.file("out.h5"), distinctFrom: [input])
    }
}
