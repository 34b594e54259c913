import CHDF5

/// Owns one HDF5 dataspace id. Caller holds the HDF5 lock while using it.
final class HDF5Dataspace {
    private(set) var id: hid_t

    /// A simple dataspace of the given dimensions (rank 0: scalar).
    init(dimensions: [Int], context: String) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        if dimensions.isEmpty {
            id = try h5id(H5Screate(H5S_SCALAR), .dataspace, context)
        } else {
            let dims = dimensions.map { hsize_t($0) }
            id = try h5id(H5Screate_simple(Int32(dims.count), dims, nil), .dataspace, context)
        }
    }

    /// Takes ownership of an id returned by H5Dget_space / H5Aget_space.
    init(owning id: hid_t, context: String) throws(StorageError) {
        self.id = try h5id(id, .dataspace, context)
    }

    var dimensions: [Int] {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let rank = Int(H5Sget_simple_extent_ndims(id))
        guard rank > 0 else { return [] }
        var dims = [hsize_t](repeating: 0, count: rank)
        _ = H5Sget_simple_extent_dims(id, &dims, nil)
        return dims.map { Int($0) }
    }

    /// Selects rows `range` of the first dimension, all of the others.
    func selectRows(_ range: Range<Int>, shape: [Int], context: String) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        var start = [hsize_t](repeating: 0, count: shape.count)
        var count = shape.map { hsize_t($0) }
        start[0] = hsize_t(range.lowerBound)
        count[0] = hsize_t(range.count)
        try h5check(H5Sselect_hyperslab(id, H5S_SELECT_SET, start, nil, count, nil), .dataspace, context)
    }

    func close() {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        if id >= 0 { _ = H5Sclose(id) }
        id = -1
    }

    deinit { close() }
}
