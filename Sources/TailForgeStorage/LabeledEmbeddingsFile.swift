/// Reader of the input contract: /embeddings floating-point [N, d] (float16, float32 or float64 on disk),
/// /labels integer [N], optional /class_names (strings). Dataset names are configurable. Opening checks the
/// structure; `readLabels()` checks the values.
public struct LabeledEmbeddingsFile: Sendable {
    public let path: String
    public let embeddingsName: String
    public let labelsName: String
    /// Number of rows N.
    public let count: Int
    /// Embedding dimension d (≥ 2).
    public let dimension: Int
    /// The class names, when the file has them (their count is the class count C).
    public let classNames: [String]?
    /// The embeddings, for reading rows as stored or as unit rows.
    public let embeddings: EmbeddingsDataset
    let labels: HDF5Dataset

    /// Opens and validates the structure. `classNames` nil, or naming a dataset that does not exist, means
    /// the file has no class names.
    public init(
        path: String, embeddings: String = "embeddings", labels: String = "labels",
        classNames: String? = "class_names"
    ) throws(StorageError) {
        let file = try HDF5File.open(path: path)
        self.path = path
        embeddingsName = embeddings
        labelsName = labels
        self.embeddings = try EmbeddingsDataset(file: file, name: embeddings)
        // A pool written for `train --unlabeled` has no labels by design: say so rather than name a missing dataset.
        if !file.contains(labels), (try? file.rootAttributes())?["split"]?.stringValue == "unlabeled" {
            throw .unlabeledPool(path: path)
        }
        self.labels = try file.openDataset(labels, rank: 1, elementClass: .integer)
        count = self.embeddings.count
        dimension = self.embeddings.dimension
        guard self.labels.rowCount == count else {
            throw .rowCountMismatch(
                file: path, dataset: labels, rows: self.labels.rowCount, reference: embeddings, referenceRows: count)
        }
        if let classNames, file.contains(classNames) {
            self.classNames = try file.openDataset(classNames, rank: 1, elementClass: .string).readStrings()
        } else {
            self.classNames = nil
        }
    }

    /// Opens with the dataset names of `names`.
    public init(path: String, names: DatasetNames) throws(StorageError) {
        try self.init(path: path, embeddings: names.embeddings, labels: names.labels, classNames: names.classNames)
    }

    /// Reads rows `rows` of the embeddings as stored, row-major, `rows.count × dimension` values.
    public func readEmbeddings(rows: Range<Int>) throws(StorageError) -> [Float] {
        try embeddings.read(rows: rows)
    }

    /// Reads rows as stored into caller-owned memory (`rows.count × dimension` values), for streaming.
    public func readEmbeddings(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws(StorageError) {
        try embeddings.read(rows: rows, into: buffer)
    }

    /// Reads rows scaled to unit length (see ``EmbeddingsDataset/readUnitRows(rows:into:)``).
    public func readUnitRows(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws(StorageError) {
        try embeddings.readUnitRows(rows: rows, into: buffer)
    }

    /// Reads all labels, checking each is ≥ 0 and below the number of class names (or fits Int32 when the
    /// file has none); the error names the first offending row.
    public func readLabels() throws(StorageError) -> [Int32] {
        let wide = try labels.read(as: Int64.self)
        let limit = classNames.map { Int64($0.count) } ?? (Int64(Int32.max) + 1)
        var result = [Int32]()
        result.reserveCapacity(wide.count)
        for (row, value) in wide.enumerated() {
            if value < 0 { throw .negativeLabel(file: path, dataset: labelsName, row: row, value: value) }
            if value >= limit {
                throw .labelOutOfRange(file: path, dataset: labelsName, row: row, value: value, classCount: classNames?.count)
            }
            result.append(Int32(value))
        }
        return result
    }
}
