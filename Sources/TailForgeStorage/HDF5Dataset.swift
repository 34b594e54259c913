import CHDF5

/// An open dataset; owns its id and closes it in `deinit`. Keeps its file open while alive.
///
/// Safe to share between threads: every call goes through the process-wide HDF5 lock.
public final class HDF5Dataset: @unchecked Sendable {
    /// The file the dataset lives in.
    public let file: HDF5File
    /// The dataset's path inside the file, without the leading slash.
    public let name: String
    /// Extent of each dimension (empty for a scalar).
    public let shape: [Int]
    /// The class of the stored elements.
    public let elementClass: HDF5ElementClass
    /// Bytes per stored element.
    public let elementSize: Int
    private(set) var id: hid_t
    private let storedType: HDF5Datatype

    /// Takes ownership of `id` whatever happens: if a later step throws, the id is closed here (a class whose
    /// init throws before all its stored properties are set never runs its `deinit`).
    init(file: HDF5File, name: String, owning id: hid_t) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let context = "\(file.path):/\(name)"
        let id = try h5id(id, .openDataset, context)
        do {
            storedType = try HDF5Datatype(owning: H5Dget_type(id), context: context)
            shape = try HDF5Dataspace(owning: H5Dget_space(id), context: context).dimensions
        } catch {
            _ = H5Dclose(id)
            throw error
        }
        self.id = id
        self.file = file
        self.name = name
        elementClass = storedType.typeClass
        elementSize = storedType.size
    }

    var context: String { "\(file.path):/\(name)" }

    /// Number of rows (extent of the first dimension; 1 for a scalar).
    public var rowCount: Int { shape.first ?? 1 }

    /// Elements per row (product of the dimensions after the first).
    public var rowLength: Int { shape.dropFirst().reduce(1, *) }

    /// Reads rows `rows` (all rows when nil), converted by HDF5 to `Element` (e.g. float16/64 → Float).
    public func read<Element: HDF5Element>(
        rows: Range<Int>? = nil, as type: Element.Type = Element.self
    ) throws(StorageError) -> [Element] {
        let range = rows ?? 0..<rowCount
        let total = range.count * rowLength
        var failure: StorageError?
        let values = [Element](unsafeUninitializedCapacity: total) { buffer, initialised in
            guard total > 0 else { return }
            do throws(StorageError) {
                try readRaw(rows: range, memoryType: Element.hdf5Kind.nativeType, into: UnsafeMutableRawPointer(buffer.baseAddress!))
                initialised = total
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return values
    }

    /// Reads rows into caller-owned memory of at least `rows.count * rowLength` elements (for streaming
    /// without an intermediate array).
    public func read<Element: HDF5Element>(
        rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Element>
    ) throws(StorageError) {
        guard buffer.count >= rows.count * rowLength else {
            throw .invalidArgument("buffer of \(buffer.count) elements for \(rows.count) rows of \(rowLength)")
        }
        guard !rows.isEmpty, rowLength > 0 else { return }
        try readRaw(rows: rows, memoryType: Element.hdf5Kind.nativeType, into: UnsafeMutableRawPointer(buffer.baseAddress!))
    }

    /// Reads all strings of a 1-D (or scalar) string dataset, fixed- or variable-length.
    public func readStrings() throws(StorageError) -> [String] {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        guard elementClass == .string else {
            throw .wrongElementClass(file: file.path, dataset: name, expected: .string, actual: elementClass)
        }
        let count = shape.reduce(1, *)
        return try HDF5Strings.read(fileType: storedType, count: count, context: context) { memoryType, buffer in
            H5Dread(id, memoryType, tf_H5S_ALL(), tf_H5S_ALL(), tf_H5P_DEFAULT(), buffer)
        }
    }

    /// Writes rows `rows` from `values` (`rows.count * rowLength` elements).
    public func write<Element: HDF5Element>(_ values: [Element], rows: Range<Int>) throws(StorageError) {
        try values.withUnsafeBufferPointer { (buffer) throws(StorageError) in
            try write(UnsafeBufferPointer(rebasing: buffer[...]), rows: rows)
        }
    }

    /// Writes rows `rows` from caller-owned memory.
    public func write<Element: HDF5Element>(
        _ buffer: UnsafeBufferPointer<Element>, rows: Range<Int>
    ) throws(StorageError) {
        guard buffer.count == rows.count * rowLength else {
            throw .invalidArgument("\(context): \(buffer.count) values for \(rows.count) rows of \(rowLength)")
        }
        guard !rows.isEmpty, rowLength > 0 else { return }
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let (memory, selection) = try spaces(for: rows)
        try h5check(
            H5Dwrite(id, Element.hdf5Kind.nativeType, memory.id, selection.id, tf_H5P_DEFAULT(), buffer.baseAddress),
            .write, context)
    }

    private func readRaw(rows: Range<Int>, memoryType: hid_t, into buffer: UnsafeMutableRawPointer) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let (memory, selection) = try spaces(for: rows)
        try h5check(H5Dread(id, memoryType, memory.id, selection.id, tf_H5P_DEFAULT(), buffer), .read, context)
    }

    /// Memory and file dataspaces for a block of whole rows, after a bounds check.
    private func spaces(for rows: Range<Int>) throws(StorageError) -> (memory: HDF5Dataspace, file: HDF5Dataspace) {
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw .rowRangeOutOfBounds(file: file.path, dataset: name, range: rows, rows: rowCount)
        }
        let selection = try HDF5Dataspace(owning: H5Dget_space(id), context: context)
        if shape.isEmpty {
            return (try HDF5Dataspace(dimensions: [], context: context), selection)
        }
        try selection.selectRows(rows, shape: shape, context: context)
        let memory = try HDF5Dataspace(dimensions: [rows.count] + shape.dropFirst(), context: context)
        return (memory, selection)
    }

    /// Closes the dataset, reporting a failure to write back cached chunks (writers use this before commit).
    func closeReportingErrors() throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        guard id >= 0 else { return }
        let status = H5Dclose(id)
        id = -1
        storedType.close()
        try h5check(status, .closeDataset, context)
    }

    /// Closes the dataset now (idempotent); writers close before committing their file.
    public func close() {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        if id >= 0 {
            _ = H5Dclose(id)
            _ = H5Eclear2(tf_H5E_DEFAULT())
        }
        id = -1
        storedType.close()
    }

    deinit { close() }
}
