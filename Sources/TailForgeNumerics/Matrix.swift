/// A dense row-major matrix of `Float`, the one in-memory layout every stage of TailForge uses.
///
/// Row `i` occupies `storage[i * columns ..< (i + 1) * columns]`. Heavy work goes through BLAS with the
/// unsafe pointer taken only around the call.
public struct Matrix: Sendable, Equatable {
    public private(set) var rows: Int
    public let columns: Int
    /// The elements, row-major. Read-only outside this module so no caller can change its length and break
    /// `rows × columns`; elements are written through the subscript or ``withUnsafeMutableBufferPointer(_:)``.
    public internal(set) var storage: [Float]

    public init(rows: Int, columns: Int, storage: [Float]) {
        precondition(rows >= 0 && columns >= 0 && storage.count == rows * columns, "Matrix shape does not match its storage")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        self.init(rows: rows, columns: columns, storage: [Float](repeating: value, count: rows * columns))
    }

    public subscript(row: Int, column: Int) -> Float {
        get { storage[row * columns + column] }
        set { storage[row * columns + column] = newValue }
    }

    /// Mutable access to every element at once (for BLAS and fills); the buffer has a fixed length, so the
    /// shape cannot change.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer { try body($0) }
    }

    public func row(_ index: Int) -> ArraySlice<Float> {
        storage[index * columns ..< (index + 1) * columns]
    }

    /// The rows at `indices`, in that order.
    public func gatherRows<C: Collection>(_ indices: C) -> Matrix where C.Element == Int {
        var out = [Float]()
        out.reserveCapacity(indices.count * columns)
        for i in indices { out.append(contentsOf: row(i)) }
        return Matrix(rows: indices.count, columns: columns, storage: out)
    }

    public mutating func appendRows(_ other: Matrix) {
        precondition(other.columns == columns, "appendRows: column counts differ")
        storage.append(contentsOf: other.storage)
        rows += other.rows
    }
}
