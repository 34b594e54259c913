import CHDF5

/// Owns one HDF5 datatype id (a copy or one returned by H5Dget_type; never a predefined type, which must not
/// be closed). Caller holds the HDF5 lock while using it.
final class HDF5Datatype {
    private(set) var id: hid_t

    init(owning id: hid_t, context: String) throws(StorageError) {
        self.id = try h5id(id, .datatype, context)
    }

    /// A copy of a predefined type, to be modified.
    static func copy(of type: hid_t, context: String) throws(StorageError) -> HDF5Datatype {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        return try HDF5Datatype(owning: H5Tcopy(type), context: context)
    }

    /// Variable-length UTF-8 string type, the form h5py reads back as `str`.
    static func variableString(context: String) throws(StorageError) -> HDF5Datatype {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let type = try copy(of: tf_H5T_C_S1(), context: context)
        try h5check(H5Tset_size(type.id, tf_H5T_VARIABLE()), .datatype, context)
        try h5check(H5Tset_cset(type.id, H5T_CSET_UTF8), .datatype, context)
        return type
    }

    var typeClass: HDF5ElementClass {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        return HDF5ElementClass(H5Tget_class(id))
    }

    var size: Int {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        return H5Tget_size(id)
    }

    var isVariableString: Bool {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        return H5Tis_variable_str(id) > 0
    }

    func close() {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        if id >= 0 { _ = H5Tclose(id) }
        id = -1
    }

    deinit { close() }
}
