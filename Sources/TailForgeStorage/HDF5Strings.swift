import CHDF5

/// Reading and writing string arrays in either of HDF5's string layouts (variable-length, as h5py writes
/// `str`; fixed-length, as numpy writes `S`/`U` bytes). Caller holds the HDF5 lock.
enum HDF5Strings {
    /// Reads `count` strings stored with `fileType`; `read` performs the H5Dread/H5Aread into the buffer.
    static func read(
        fileType: HDF5Datatype, count: Int, context: String,
        _ read: (_ memoryType: hid_t, _ buffer: UnsafeMutableRawPointer) -> herr_t
    ) throws(StorageError) -> [String] {
        guard count > 0 else { return [] }
        if fileType.isVariableString {
            let memoryType = try HDF5Datatype.copy(of: tf_H5T_C_S1(), context: context)
            try h5check(H5Tset_size(memoryType.id, tf_H5T_VARIABLE()), .datatype, context)
            try h5check(H5Tset_cset(memoryType.id, H5Tget_cset(fileType.id)), .datatype, context)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            let status = pointers.withUnsafeMutableBytes { read(memoryType.id, $0.baseAddress!) }
            // HDF5 allocated each string; free them whatever happens next.
            defer { for pointer in pointers where pointer != nil { H5free_memory(pointer) } }
            try h5check(status, .read, context)
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let width = fileType.size
        let memoryType = try HDF5Datatype(owning: H5Tcopy(fileType.id), context: context)
        var bytes = [UInt8](repeating: 0, count: count * width)
        let status = bytes.withUnsafeMutableBytes { read(memoryType.id, $0.baseAddress!) }
        try h5check(status, .read, context)
        let spacePadded = H5Tget_strpad(fileType.id) == H5T_STR_SPACEPAD
        return (0..<count).map { index in
            var field = bytes[(index * width)..<((index + 1) * width)]
            if let end = field.firstIndex(of: 0) { field = field[..<end] }
            if spacePadded { while field.last == 0x20 { field = field.dropLast() } }
            return String(decoding: field, as: UTF8.self)
        }
    }

    /// Calls `body` with C strings for `values` (valid only inside `body`).
    static func withCStrings<R>(_ values: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let owned: [UnsafeMutablePointer<CChar>?] = values.map { strdupUTF8($0) }
        defer { for pointer in owned { pointer?.deallocate() } }
        return body(owned.map { UnsafePointer($0) })
    }

    private static func strdupUTF8(_ value: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(value.utf8)
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        for (index, byte) in utf8.enumerated() { pointer[index] = CChar(bitPattern: byte) }
        pointer[utf8.count] = 0
        return pointer
    }
}
