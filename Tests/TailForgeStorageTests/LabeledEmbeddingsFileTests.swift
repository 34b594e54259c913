import CHDF5
import Foundation
import Testing
@testable import TailForgeStorage
import TailForgeTestSupport

@Suite struct LabeledEmbeddingsFileTests {
    // Values exactly representable in binary16, so the half-precision round trip is exact.
    static let halfExact: [Float] = [0.5, -1.25, 3.0, 0.0, 2.75, -0.125]

    @Test func readsFloat32InputWithClassNamesAndRowRanges() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        let values = (0..<12).map { Float($0) / 4 }
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", values, shape: [4, 3])
            file.integers("labels", [1, 0, 2, 1], shape: [4], fileType: tf_H5T_STD_I32LE())
            file.variableStrings("class_names", ["cat", "dög", "emu"])
        }
        let input = try LabeledEmbeddingsFile(path: path)
        #expect(input.count == 4)
        #expect(input.dimension == 3)
        #expect(input.classNames == ["cat", "dög", "emu"])
        #expect(try input.readEmbeddings(rows: 0..<4) == values)
        #expect(try input.readEmbeddings(rows: 1..<3) == Array(values[3..<9]))
        #expect(try input.readEmbeddings(rows: 2..<2) == [])
        #expect(try input.readLabels() == [1, 0, 2, 1])
        var buffer = [Float](repeating: -1, count: 3)
        try buffer.withUnsafeMutableBufferPointer { pointer in try input.readEmbeddings(rows: 3..<4, into: pointer) }
        #expect(buffer == Array(values[9..<12]))
    }

    @Test func readsChunkedCompressedInputAcrossChunkBoundaries() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("gzip.h5")
        let values = (0..<(10 * 4)).map { Float($0) * 0.5 }
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", values, shape: [10, 4], deflate: true)
            file.integers("labels", Array(repeating: 0, count: 10), shape: [10])
        }
        let input = try LabeledEmbeddingsFile(path: path)
        #expect(try input.readEmbeddings(rows: 2..<8) == Array(values[8..<32]))
        #expect(try input.readEmbeddings(rows: 0..<10) == values)
    }

    @Test func convertsFloat16InputToFloat() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("half.h5")
        do {
            let file = RawHDF5File(path: path)
            file.halfFloats("embeddings", Self.halfExact, shape: [3, 2])
            file.integers("labels", [0, 1, 0], shape: [3])
        }
        let dataset = try HDF5File.open(path: path).openDataset("embeddings")
        #expect(dataset.elementSize == 2)
        #expect(try LabeledEmbeddingsFile(path: path).readEmbeddings(rows: 0..<3) == Self.halfExact)
    }

    @Test func convertsFloat64InputToFloat() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("double.h5")
        let values: [Double] = [0.1, -2.5, 1e-3, 7.0, 1.0 / 3.0, -0.2]
        do {
            let file = RawHDF5File(path: path)
            file.doubles("embeddings", values, shape: [2, 3])
            file.integers("labels", [1, 0], shape: [2])
        }
        // Conversion must round to nearest like Swift's Float(Double).
        #expect(try LabeledEmbeddingsFile(path: path).readEmbeddings(rows: 0..<2) == values.map { Float($0) })
    }

    /// float64 rows at 1e-50 and 1e39 are valid directions: they are normalised in Double and only then stored
    /// as Float. Read as stored they are zeros and infinities, which is why every command reads unit rows.
    @Test func float64RowsOutsideFloatRangeReadAsUnitRows() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("scaled.h5")
        let row: [Double] = [3, -4, 0]
        do {
            let file = RawHDF5File(path: path)
            file.doubles("embeddings", row.map { $0 * 1e-50 } + row.map { $0 * 1e39 } + row, shape: [3, 3])
            file.integers("labels", [0, 1, 0], shape: [3])
        }
        let input = try LabeledEmbeddingsFile(path: path)
        #expect(input.embeddings.isWiderThanFloat)
        // 3-4-5 triangle: the unit row is exactly (0.6, -0.8, 0) in every case.
        #expect(try input.embeddings.readUnitRows(rows: 0..<3) == [0.6, -0.8, 0, 0.6, -0.8, 0, 0.6, -0.8, 0])
        #expect(try input.readEmbeddings(rows: 0..<2).contains { $0 == 0 || $0.isInfinite })
    }

    @Test func unitRowReadsNameTheBadRowInTheFile() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("bad.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [1, 0, 0, 0, 0, 1], shape: [3, 2])
            file.integers("labels", [0, 1, 0], shape: [3])
        }
        #expect(storageError { try LabeledEmbeddingsFile(path: path).embeddings.readUnitRows(rows: 1..<3) }
                == .badRow(file: path, dataset: "embeddings", row: 1, reason: "is all zeros (no direction to normalise)"))
    }

    @Test(arguments: ["u8", "i16", "u32", "i64"])
    func acceptsAnyIntegerLabelType(_ typeName: String) throws {
        let fileType: hid_t = switch typeName {
        case "u8": tf_H5T_NATIVE_UINT8()
        case "i16": tf_H5T_NATIVE_INT16()
        case "u32": tf_H5T_NATIVE_UINT32()
        default: tf_H5T_STD_I64LE()
        }
        let directory = TemporaryDirectory("storage")
        let path = directory.file("labels.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [Float](repeating: 1, count: 8), shape: [4, 2])
            file.integers("labels", [3, 0, 200, 7], shape: [4], fileType: fileType)
        }
        #expect(try LabeledEmbeddingsFile(path: path).readLabels() == [3, 0, 200, 7])
    }

    @Test func readsFixedLengthClassNamesAndCustomDatasetNames() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("names.h5")
        do {
            let file = RawHDF5File(path: path)
            file.group("data")
            file.floats("data/features", [1, 2, 3, 4], shape: [2, 2])
            file.integers("data/y", [1, 0], shape: [2])
            file.fixedStrings("names", ["alpha", "be"], width: 8)
        }
        let input = try LabeledEmbeddingsFile(path: path, embeddings: "data/features", labels: "data/y", classNames: "names")
        #expect(input.classNames == ["alpha", "be"])
        #expect(try input.readLabels() == [1, 0])
        #expect(try LabeledEmbeddingsFile(path: path, embeddings: "data/features", labels: "data/y").classNames == nil)
    }

    @Test func missingFileIsReported() {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("absent.h5")
        #expect(storageError { try LabeledEmbeddingsFile(path: path) } == .missingFile(path: path))
    }

    @Test func nonHDF5FileIsReported() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("text.h5")
        try "embeddings,labels\n1,2\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(storageError { try LabeledEmbeddingsFile(path: path) } == .notHDF5(path: path))
        #expect(storageError { try LabeledEmbeddingsFile(path: directory.path) } == .notHDF5(path: directory.path))
    }

    @Test func missingDatasetListsTheDatasetsThatExist() {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("emb", [1, 2, 3, 4], shape: [2, 2])
            file.group("extra")
            file.integers("extra/labels", [0, 1], shape: [2])
        }
        let error = storageError { try LabeledEmbeddingsFile(path: path) }
        #expect(error == .missingDataset(file: path, dataset: "embeddings", available: ["emb", "extra/labels"]))
        #expect(error?.description.contains("/emb, /extra/labels") == true)
        // A group is not a dataset either.
        #expect(storageError { try LabeledEmbeddingsFile(path: path, embeddings: "extra") }
            == .missingDataset(file: path, dataset: "extra", available: ["emb", "extra/labels"]))
    }

    @Test func wrongRankIsReported() {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [1, 2, 3, 4], shape: [4])
            file.floats("cube", [Float](repeating: 0, count: 8), shape: [2, 2, 2])
            file.integers("labels", [0, 1, 0, 1], shape: [2, 2])
            file.floats("good", [1, 2, 3, 4], shape: [2, 2])
        }
        #expect(storageError { try LabeledEmbeddingsFile(path: path) }
            == .wrongRank(file: path, dataset: "embeddings", expected: 2, shape: [4]))
        #expect(storageError { try LabeledEmbeddingsFile(path: path, embeddings: "cube") }
            == .wrongRank(file: path, dataset: "cube", expected: 2, shape: [2, 2, 2]))
        #expect(storageError { try LabeledEmbeddingsFile(path: path, embeddings: "good") }
            == .wrongRank(file: path, dataset: "labels", expected: 1, shape: [2, 2]))
    }

    @Test func wrongElementClassIsReported() {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.variableStrings("embeddings", ["a", "b"])
            file.floats("floats", [1, 2, 3, 4], shape: [2, 2])
            file.floats("labels", [0, 1], shape: [2])
            file.integers("intlabels", [0, 1], shape: [2])
            file.integers("class_names", [0, 1], shape: [2])
        }
        #expect(storageError { try LabeledEmbeddingsFile(path: path) }
            == .wrongElementClass(file: path, dataset: "embeddings", expected: .float, actual: .string))
        #expect(storageError { try LabeledEmbeddingsFile(path: path, embeddings: "floats") }
            == .wrongElementClass(file: path, dataset: "labels", expected: .integer, actual: .float))
        #expect(storageError { try LabeledEmbeddingsFile(path: path, embeddings: "floats", labels: "intlabels") }
            == .wrongElementClass(file: path, dataset: "class_names", expected: .string, actual: .integer))
    }

    @Test func rowCountMismatchIsReported() {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [Float](repeating: 1, count: 6), shape: [3, 2])
            file.integers("labels", [0, 1], shape: [2])
        }
        let error = storageError { try LabeledEmbeddingsFile(path: path) }
        #expect(error == .rowCountMismatch(file: path, dataset: "labels", rows: 2, reference: "embeddings", referenceRows: 3))
    }

    @Test(arguments: [0, 1])
    func tooSmallDimensionIsReported(_ dimension: Int) {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [Float](repeating: 1, count: 3 * dimension), shape: [3, dimension])
            file.integers("labels", [0, 1, 2], shape: [3])
        }
        #expect(storageError { try LabeledEmbeddingsFile(path: path) }
            == .dimensionTooSmall(file: path, dataset: "embeddings", dimension: dimension))
    }

    @Test func negativeLabelNamesTheRow() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [Float](repeating: 1, count: 8), shape: [4, 2])
            file.integers("labels", [0, 1, -3, 1], shape: [4], fileType: tf_H5T_NATIVE_INT16())
        }
        let input = try LabeledEmbeddingsFile(path: path)
        let error = storageError { try input.readLabels() }
        #expect(error == .negativeLabel(file: path, dataset: "labels", row: 2, value: -3))
        #expect(error?.description.contains("row 2") == true)
    }

    @Test func labelBeyondClassNamesNamesTheRow() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [Float](repeating: 1, count: 8), shape: [4, 2])
            file.integers("labels", [0, 1, 1, 2], shape: [4])
            file.variableStrings("class_names", ["a", "b"])
        }
        let input = try LabeledEmbeddingsFile(path: path)
        #expect(storageError { try input.readLabels() }
            == .labelOutOfRange(file: path, dataset: "labels", row: 3, value: 2, classCount: 2))
    }

    @Test func labelTooLargeForInt32IsReportedWithoutClassNames() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [Float](repeating: 1, count: 4), shape: [2, 2])
            file.integers("labels", [0, 1 << 40], shape: [2])
        }
        #expect(storageError { try LabeledEmbeddingsFile(path: path).readLabels() }
            == .labelOutOfRange(file: path, dataset: "labels", row: 1, value: 1 << 40, classCount: nil))
    }

    @Test func rowRangeOutsideTheDatasetIsReported() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("in.h5")
        do {
            let file = RawHDF5File(path: path)
            file.floats("embeddings", [Float](repeating: 1, count: 4), shape: [2, 2])
            file.integers("labels", [0, 1], shape: [2])
        }
        let input = try LabeledEmbeddingsFile(path: path)
        #expect(storageError { try input.readEmbeddings(rows: 1..<3) }
            == .rowRangeOutOfBounds(file: path, dataset: "embeddings", range: 1..<3, rows: 2))
    }
}
