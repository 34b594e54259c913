import TailForgeNumerics

/// Writes the balanced-output contract: /embeddings float32 [M, d], /labels int32 [M], /is_synthetic uint8 [M],
/// /source_index int64 [M], /kappa float32 [M] (all chunked by `chunkRows` rows), optional /class_names, and
/// root attributes — or, for ``BalancedLayout/compact``, the real rows only under the compact names
/// (`/real_embeddings`, `/real_labels`, `/real_source_index`, `/real_kappa` holding each real row's κ) and
/// `/class_input_rows`.
///
/// The total row count is fixed up front. Rows may be appended in any batching; they are buffered and written
/// one whole chunk at a time, in order, so the final bytes depend only on the rows and the attributes. The
/// file appears at `path` only on `commit()`; otherwise the temporary sibling is removed. With `inMemory`, the
/// same bytes are built in memory only and `commitImage()` returns them (a file wanted only for its digest).
///
/// Every appended row also feeds one SHA-256 per dataset, so the content digests (`BalancedContentDigest`) are
/// ready at commit without reading the output back.
public final class BalancedDatasetWriter {
    public let path: String
    public let dimension: Int
    public let totalRows: Int
    public let chunkRows: Int
    /// Rows received so far.
    public private(set) var rowsAppended = 0
    public let layout: BalancedLayout
    /// The content digest of each dataset (see `BalancedContentDigest`), set by a successful `commit()`.
    public private(set) var contentDigests: [String: String]?

    private let output: AtomicHDF5Writer
    private let embeddings: HDF5Dataset
    private let labels: HDF5Dataset
    private let isSynthetic: HDF5Dataset?
    private let sourceIndex: HDF5Dataset
    private let kappa: HDF5Dataset
    private var rowsWritten = 0
    private var pending = Pending()
    private var hasher: BalancedContentHasher

    /// Digests of the real rows' embeddings, labels and source indices in output order (keys
    /// ``BalancedSetIdentity/realContentKeys``): the same for the full and compact layouts of one set, so both
    /// record the same ``BalancedSetIdentity``. Available as soon as every row is appended.
    public var realContentDigests: [String: String] { hasher.realContentDigests }

    private struct Pending {
        var embeddings: [Float] = []
        var labels: [Int32] = []
        var isSynthetic: [UInt8] = []
        var sourceIndex: [Int64] = []
        var kappa: [Float] = []
        var rows: Int { labels.count }

        mutating func append(embeddings newEmbeddings: [Float], labels newLabels: [Int32], isSynthetic newIsSynthetic: [UInt8],
                             sourceIndex newSourceIndex: [Int64], kappa newKappa: [Float], rows: Range<Int>, dimension: Int) {
            guard !rows.isEmpty else { return }
            embeddings += newEmbeddings[rows.lowerBound * dimension ..< rows.upperBound * dimension]
            labels += newLabels[rows]
            isSynthetic += newIsSynthetic[rows]
            sourceIndex += newSourceIndex[rows]
            kappa += newKappa[rows]
        }

        mutating func removeAll() {
            embeddings.removeAll(keepingCapacity: true)
            labels.removeAll(keepingCapacity: true)
            isSynthetic.removeAll(keepingCapacity: true)
            sourceIndex.removeAll(keepingCapacity: true)
            kappa.removeAll(keepingCapacity: true)
        }
    }

    /// Fails before doing any work when `path` cannot be written or is one of `inputs` (see
    /// `AtomicHDF5Writer.checkWritable`).
    public static func checkWritable(path: String, distinctFrom inputs: [String] = []) throws(StorageError) {
        try AtomicHDF5Writer.checkWritable(path: path, distinctFrom: inputs)
    }

    /// - Parameters:
    ///   - totalRows: rows of the file (for the compact layout: the real rows).
    ///   - classInputRows: the compact layout's `/class_input_rows`; required for it, ignored otherwise.
    ///   - inMemory: build the file in memory (``AtomicHDF5Writer/init(inMemoryNamed:)``), `path` naming it in errors;
    ///     finish with ``commitImage(attributes:)``.
    ///   - pastPageCache: write the rows past the page cache where the filesystem allows (``HDF5File/bypassesPageCache``);
    ///     the same bytes either way.
    public init(
        path: String, dimension: Int, totalRows: Int, attributes: [String: AttributeValue],
        classNames: [String]?, chunkRows: Int = 4096, layout: BalancedLayout = .full, classInputRows: [Int64]? = nil,
        inMemory: Bool = false, pastPageCache: Bool = HDF5File.bypassesPageCache
    ) throws(StorageError) {
        guard dimension >= 1, totalRows >= 0, chunkRows >= 1 else {
            throw .invalidArgument("dimension \(dimension), totalRows \(totalRows), chunkRows \(chunkRows)")
        }
        guard layout == .full || classInputRows != nil else {
            throw .invalidArgument("a compact balanced file needs its class input row counts")
        }
        self.path = path
        self.dimension = dimension
        self.totalRows = totalRows
        self.chunkRows = min(chunkRows, max(totalRows, 1))
        self.layout = layout
        hasher = BalancedContentHasher(dimension: dimension)
        let names = layout.rowDatasets
        output = inMemory ? try AtomicHDF5Writer(inMemoryNamed: path) : try AtomicHDF5Writer(path: path, pastPageCache: pastPageCache)
        try output.writeAttributes(attributes)
        if let classNames { try output.writeStrings("class_names", classNames) }
        if layout == .compact, let classInputRows {
            try output.writeDataset(BalancedLayout.classInputRowsDataset, values: classInputRows, shape: [classInputRows.count])
        }
        embeddings = try output.createDataset(names.embeddings, kind: .float32, shape: [totalRows, dimension], chunkRows: self.chunkRows)
        labels = try output.createDataset(names.labels, kind: .int32, shape: [totalRows], chunkRows: self.chunkRows)
        if let name = names.isSynthetic {
            isSynthetic = try output.createDataset(name, kind: .uint8, shape: [totalRows], chunkRows: self.chunkRows)
        } else {
            isSynthetic = nil
        }
        sourceIndex = try output.createDataset(names.sourceIndex, kind: .int64, shape: [totalRows], chunkRows: self.chunkRows)
        kappa = try output.createDataset(names.kappa, kind: .float32, shape: [totalRows], chunkRows: self.chunkRows)
    }

    /// Appends rows (`labels.count` of them; `embeddings` row-major, `labels.count × dimension`). A write
    /// failure (disk full) abandons the output and throws `writeFailed`.
    public func append(
        embeddings newEmbeddings: [Float], labels newLabels: [Int32], isSynthetic newIsSynthetic: [UInt8],
        sourceIndex newSourceIndex: [Int64], kappa newKappa: [Float]
    ) throws(StorageError) {
        let rows = newLabels.count
        guard newEmbeddings.count == rows * dimension, newIsSynthetic.count == rows,
              newSourceIndex.count == rows, newKappa.count == rows else {
            throw .invalidArgument(
                "append to \(path): \(rows) labels but \(newEmbeddings.count) embedding values (d = \(dimension)), "
                    + "\(newIsSynthetic.count) is_synthetic, \(newSourceIndex.count) source_index, \(newKappa.count) kappa")
        }
        guard rowsAppended + rows <= totalRows else {
            throw .wrongRowCount(path: path, expected: totalRows, actual: rowsAppended + rows)
        }
        guard layout == .full || !newIsSynthetic.contains(where: { $0 != 0 }) else {
            throw .invalidArgument("append to \(path): a compact balanced file holds real rows only")
        }
        rowsAppended += rows
        // The content digests and the HDF5 writes only read the rows, and each touches state of its own (`hasher`;
        // `pending`, `rowsWritten` and the file): side by side on two threads rather than one after the other on
        // the writing thread, where SHA-256 over the rows and the kernel's copy of them into the page cache were
        // most of a full-layout balance's critical path. The pool drops the closure when the call returns, so a writer
        // released uncommitted still goes at once (removing its temporary file).
        nonisolated(unsafe) let writer = self
        try ComputePool.forEach(2, width: 2) { (part: Int) throws(StorageError) in
            if part == 0 {
                writer.hasher.update(embeddings: newEmbeddings, labels: newLabels, isSynthetic: newIsSynthetic,
                                     sourceIndex: newSourceIndex, kappa: newKappa)
            } else {
                try writer.writeRows(embeddings: newEmbeddings, labels: newLabels, isSynthetic: newIsSynthetic,
                                     sourceIndex: newSourceIndex, kappa: newKappa)
            }
        }
    }

    /// Buffers or writes appended rows. Whole chunks are written straight from the caller's arrays; only a chunk's
    /// head (completing what is pending) and the tail (less than a chunk) are copied into `pending`. The chunks go
    /// to HDF5 in the same order and size either way, so the bytes do not depend on it; copying every row through
    /// `pending` was a whole extra pass over the output (5.6 GB at Places-LT scale) on the writing thread.
    private func writeRows(
        embeddings newEmbeddings: [Float], labels newLabels: [Int32], isSynthetic newIsSynthetic: [UInt8],
        sourceIndex newSourceIndex: [Int64], kappa newKappa: [Float]
    ) throws(StorageError) {
        let rows = newLabels.count
        var first = 0
        if pending.rows > 0 {
            first = min(rows, chunkRows - pending.rows)
            pending.append(embeddings: newEmbeddings, labels: newLabels, isSynthetic: newIsSynthetic, sourceIndex: newSourceIndex,
                           kappa: newKappa, rows: 0..<first, dimension: dimension)
            guard pending.rows == chunkRows else { return }
            try writeChunk(embeddings: pending.embeddings, labels: pending.labels, isSynthetic: pending.isSynthetic,
                           sourceIndex: pending.sourceIndex, kappa: pending.kappa, from: 0)
            pending.removeAll()
        }
        while rows - first >= chunkRows {
            try writeChunk(embeddings: newEmbeddings, labels: newLabels, isSynthetic: newIsSynthetic, sourceIndex: newSourceIndex,
                           kappa: newKappa, from: first)
            first += chunkRows
        }
        pending.append(embeddings: newEmbeddings, labels: newLabels, isSynthetic: newIsSynthetic, sourceIndex: newSourceIndex,
                       kappa: newKappa, rows: first..<rows, dimension: dimension)
    }

    /// The content digests of the rows appended so far (the same as ``contentDigests`` once all are in), for
    /// attributes written at commit.
    public var appendedContentDigests: [String: String] { hasher.digests(layout.rowDatasets) }

    /// Writes the last partial chunk and `attributes` (root attributes only known once every row is in, such
    /// as ``BalancedSetIdentity``), then flushes, closes, fsyncs and renames the file into place.
    /// Throws `wrongRowCount` (leaving the writer open) if fewer than `totalRows` rows were appended.
    /// With `digestingFile`, the returned function gives the file's SHA-256, read beside the fsync
    /// (``AtomicHDF5Writer/commit(digestingFile:)``).
    @discardableResult
    public func commit(attributes: [String: AttributeValue] = [:], digestingFile: Bool = false) throws(StorageError) -> () -> String? {
        try finishRows(attributes: attributes)
        let fileDigest = try output.commit(digestingFile: digestingFile)
        contentDigests = hasher.digests(layout.rowDatasets)
        return fileDigest
    }

    /// ``commit(attributes:digestingFile:)`` for a writer made with `inMemory`: the file's bytes, exactly those
    /// `commit` would have put at `path`.
    public func commitImage(attributes: [String: AttributeValue] = [:]) throws(StorageError) -> HDF5FileImage {
        try finishRows(attributes: attributes)
        let image = try output.commitImage()
        contentDigests = hasher.digests(layout.rowDatasets)
        return image
    }

    /// Writes the last partial chunk and the closing attributes.
    private func finishRows(attributes: [String: AttributeValue]) throws(StorageError) {
        guard rowsAppended == totalRows else {
            throw .wrongRowCount(path: path, expected: totalRows, actual: rowsAppended)
        }
        if pending.rows > 0 {
            try writeChunk(embeddings: pending.embeddings, labels: pending.labels, isSynthetic: pending.isSynthetic,
                           sourceIndex: pending.sourceIndex, kappa: pending.kappa, from: 0, rows: pending.rows)
            pending = Pending()
        }
        if !attributes.isEmpty {
            do throws(StorageError) { try output.writeAttributes(attributes) } catch {
                output.abandon()
                throw error
            }
        }
    }

    /// Discards the output and removes the temporary file (also done when released uncommitted).
    public func abandon() {
        output.abandon()
    }

    /// Writes one chunk's rows, `from ..< from + chunkRows` of the given arrays (or fewer: the last chunk).
    private func writeChunk(embeddings: [Float], labels: [Int32], isSynthetic: [UInt8], sourceIndex: [Int64], kappa: [Float],
                            from start: Int, rows: Int? = nil) throws(StorageError) {
        let rows = rows ?? chunkRows
        let target = rowsWritten..<(rowsWritten + rows)
        do throws(StorageError) {
            try output.mapWriteFailure { () throws(StorageError) in
                try write(embeddings, start * dimension, rows * dimension, to: self.embeddings, rows: target)
                try write(labels, start, rows, to: self.labels, rows: target)
                if let dataset = self.isSynthetic { try write(isSynthetic, start, rows, to: dataset, rows: target) }
                try write(sourceIndex, start, rows, to: self.sourceIndex, rows: target)
                try write(kappa, start, rows, to: self.kappa, rows: target)
            }
        } catch {
            output.abandon()
            throw error
        }
        rowsWritten += rows
    }

    private func write<Element: HDF5Element>(
        _ values: [Element], _ offset: Int, _ count: Int, to dataset: HDF5Dataset, rows: Range<Int>
    ) throws(StorageError) {
        try values.withUnsafeBufferPointer { (buffer) throws(StorageError) in
            try dataset.write(UnsafeBufferPointer(rebasing: buffer[offset..<(offset + count)]), rows: rows)
        }
    }
}
