import CHDF5

/// Owns one HDF5 property-list id. Caller holds the HDF5 lock while using it.
final class HDF5PropertyList {
    private(set) var id: hid_t

    init(class propertyClass: hid_t, context: String) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        id = try h5id(H5Pcreate(propertyClass), .propertyList, context)
    }

    func close() {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        if id >= 0 { _ = H5Pclose(id) }
        id = -1
    }

    deinit { close() }
}
