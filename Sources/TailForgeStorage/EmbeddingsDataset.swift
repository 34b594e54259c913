import TailForgeNumerics

/// The `[N, d]` floating-point embeddings of a file (float16, float32 or float64 on disk), read either as
/// stored (converted to Float) or as unit rows, the form every TailForge command works on.
public struct EmbeddingsDataset: Sendable {
    public let path: String
    public let name: String
    /// Number of rows N.
    public let count: Int
    /// Embedding dimension d (≥ 2).
    public let dimension: Int
    let dataset: HDF5Dataset

    /// Opens `name` in an open file, checking it is a rank-2 floating-point dataset with d ≥ 2.
    public init(file: HDF5File, name: String) throws(StorageError) {
        // A compact balanced file has no full-layout rows to read; say so instead of "no such dataset".
        if !file.contains(name), BalancedLayout(attributes: (try? file.rootAttributes()) ?? [:]) == .compact {
            throw .compactLayout(path: file.path)
        }
        dataset = try file.openDataset(name, rank: 2, elementClass: .float)
        path = file.path
        self.name = name
        count = dataset.shape[0]
        dimension = dataset.shape[1]
        guard dimension >= 2 else { throw .dimensionTooSmall(file: path, dataset: name, dimension: dimension) }
    }

    /// Opens the file at `path` and its dataset `name`.
    public init(path: String, name: String = "embeddings") throws(StorageError) {
        try self.init(file: try HDF5File.open(path: path), name: name)
    }

    /// Whether the file stores more precision than Float (float64 and wider): such rows are normalised in Double.
    public var isWiderThanFloat: Bool { dataset.elementSize > 4 }

    /// Reads rows as stored, converted to Float (`rows.count × dimension` values, row-major).
    public func read(rows: Range<Int>) throws(StorageError) -> [Float] {
        try dataset.read(rows: rows, as: Float.self)
    }

    /// Reads rows as stored into caller-owned memory, for streaming.
    public func read(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws(StorageError) {
        try dataset.read(rows: rows, into: buffer)
    }

    /// Reads rows and scales each to unit length with ``RowNormalization`` (in Double, before float64 values are
    /// rounded to Float), so a row and any positive multiple of it read the same. A zero, NaN or infinite row is
    /// reported by its row number in the file.
    public func readUnitRows(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws(StorageError) {
        let values = rows.count * dimension
        guard buffer.count >= values else {
            throw .invalidArgument("buffer of \(buffer.count) values for \(rows.count) rows of \(dimension)")
        }
        guard values > 0 else { return }
        let buffer = UnsafeMutableBufferPointer(rebasing: buffer[0 ..< values])
        let wide: [Double]? = isWiderThanFloat ? try dataset.read(rows: rows, as: Double.self) : nil
        if wide == nil { try read(rows: rows, into: buffer) }
        do throws(RowNormalizationError) {
            if let wide {
                try wide.withUnsafeBufferPointer { (source) throws(RowNormalizationError) in
                    try RowNormalization.normalizeRows(source, columns: dimension, into: buffer, firstRowIndex: rows.lowerBound)
                }
            } else {
                try RowNormalization.normalizeRows(UnsafeBufferPointer(buffer), columns: dimension, into: buffer,
                                                   firstRowIndex: rows.lowerBound)
            }
        } catch {
            switch error {
            case .zeroRow(let row):
                throw .badRow(file: path, dataset: name, row: row, reason: "is all zeros (no direction to normalise)")
            case .nonFiniteRow(let row, let column):
                throw .badRow(file: path, dataset: name, row: row, reason: "has a NaN or infinite value at column \(column)")
            }
        }
    }

    /// Reads rows as unit rows into a new array (`rows.count × dimension` values).
    public func readUnitRows(rows: Range<Int>) throws(StorageError) -> [Float] {
        var failure: StorageError?
        let values = [Float](unsafeUninitializedCapacity: rows.count * dimension) { buffer, initialised in
            do throws(StorageError) {
                try readUnitRows(rows: rows, into: buffer)
                initialised = rows.count * dimension
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return values
    }
}
