/// Reader of the balanced-output contract written by `BalancedDatasetWriter`, for training, gathering and
/// verification. Opening checks that every dataset is present with the right rank, class and length.
public struct BalancedDatasetFile: Sendable {
    public let path: String
    /// Number of rows M.
    public let count: Int
    /// Embedding dimension d.
    public let dimension: Int
    /// The class names, if the file has /class_names.
    public let classNames: [String]?
    /// Root attributes (tool version, seed, policies, input SHA-256, …).
    public let attributes: [String: AttributeValue]
    private let embeddings: HDF5Dataset
    private let labels: HDF5Dataset
    private let isSynthetic: HDF5Dataset
    private let sourceIndex: HDF5Dataset
    private let kappa: HDF5Dataset

    public init(path: String) throws(StorageError) {
        let file = try HDF5File.open(path: path)
        self.path = path
        embeddings = try file.openDataset("embeddings", rank: 2, elementClass: .float)
        labels = try file.openDataset("labels", rank: 1, elementClass: .integer)
        isSynthetic = try file.openDataset("is_synthetic", rank: 1, elementClass: .integer)
        sourceIndex = try file.openDataset("source_index", rank: 1, elementClass: .integer)
        kappa = try file.openDataset("kappa", rank: 1, elementClass: .float)
        count = embeddings.shape[0]
        dimension = embeddings.shape[1]
        for dataset in [labels, isSynthetic, sourceIndex, kappa] where dataset.rowCount != count {
            throw .rowCountMismatch(
                file: path, dataset: dataset.name, rows: dataset.rowCount, reference: "embeddings", referenceRows: count)
        }
        classNames = file.contains("class_names")
            ? try file.openDataset("class_names", rank: 1, elementClass: .string).readStrings() : nil
        attributes = try file.rootAttributes()
    }

    public func readEmbeddings(rows: Range<Int>) throws(StorageError) -> [Float] {
        try embeddings.read(rows: rows, as: Float.self)
    }

    public func readEmbeddings(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws(StorageError) {
        try embeddings.read(rows: rows, into: buffer)
    }

    public func readLabels() throws(StorageError) -> [Int32] { try labels.read(as: Int32.self) }
    public func readIsSynthetic() throws(StorageError) -> [UInt8] { try isSynthetic.read(as: UInt8.self) }
    public func readSourceIndex() throws(StorageError) -> [Int64] { try sourceIndex.read(as: Int64.self) }
    public func readKappa() throws(StorageError) -> [Float] { try kappa.read(as: Float.self) }
}
