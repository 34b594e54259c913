/// The k nearest neighbours of every row of a point set, by cosine.
///
/// Row `i`'s neighbours are `indices[i*k ..< (i+1)*k]` with cosines `cosines[i*k ..< (i+1)*k]`, sorted by
/// descending cosine, ties by lower index.
public struct NearestNeighbourResult: Sendable, Equatable {
    public let k: Int
    public var indices: [Int32]
    public var cosines: [Float]

    public init(k: Int, indices: [Int32], cosines: [Float]) {
        precondition(indices.count == cosines.count && (k == 0 ? indices.isEmpty : indices.count % k == 0),
                     "NearestNeighbourResult: \(indices.count) indices and \(cosines.count) cosines do not fit k = \(k)")
        self.k = k
        self.indices = indices
        self.cosines = cosines
    }

    /// Neighbour indices of row `row`, nearest first.
    public func neighbours(of row: Int) -> ArraySlice<Int32> { indices[row * k ..< (row + 1) * k] }

    /// Neighbour cosines of row `row`, largest first.
    public func neighbourCosines(of row: Int) -> ArraySlice<Float> { cosines[row * k ..< (row + 1) * k] }
}
