import CHDF5

/// Owns one HDF5 attribute id. Caller holds the HDF5 lock while using it.
final class HDF5Attribute {
    private(set) var id: hid_t

    init(owning id: hid_t, context: String) throws(StorageError) {
        self.id = try h5id(id, .attribute, context)
    }

    func close() {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        if id >= 0 { _ = H5Aclose(id) }
        id = -1
    }

    deinit { close() }
}

extension HDF5File {
    /// The root group's scalar attributes: strings (fixed or variable length), integers (as Int64) and
    /// floating-point values (as Double). Attributes of other types or with more than one element are skipped.
    public func rootAttributes() throws(StorageError) -> [String: AttributeValue] {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        final class Collector { var names: [String] = [] }
        let collector = Collector()
        let status = H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, nil, { _, name, _, context in
            guard let name, let context else { return 0 }
            Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue().names.append(String(cString: name))
            return 0
        }, Unmanaged.passUnretained(collector).toOpaque())
        try h5check(status, .attribute, path)
        var result: [String: AttributeValue] = [:]
        for name in collector.names {
            if let value = try readRootAttribute(name) { result[name] = value }
        }
        return result
    }

    private func readRootAttribute(_ name: String) throws(StorageError) -> AttributeValue? {
        let context = "\(path):/@\(name)"
        let attribute = try HDF5Attribute(owning: H5Aopen(id, name, tf_H5P_DEFAULT()), context: context)
        let space = try HDF5Dataspace(owning: H5Aget_space(attribute.id), context: context)
        guard H5Sget_simple_extent_npoints(space.id) == 1 else { return nil }
        let type = try HDF5Datatype(owning: H5Aget_type(attribute.id), context: context)
        switch type.typeClass {
        case .string:
            let strings = try HDF5Strings.read(fileType: type, count: 1, context: context) { memoryType, buffer in
                H5Aread(attribute.id, memoryType, buffer)
            }
            return .string(strings[0])
        case .integer:
            var value: Int64 = 0
            try h5check(H5Aread(attribute.id, tf_H5T_NATIVE_INT64(), &value), .read, context)
            return .int(value)
        case .float:
            var value: Double = 0
            try h5check(H5Aread(attribute.id, tf_H5T_NATIVE_DOUBLE(), &value), .read, context)
            return .double(value)
        case .other:
            return nil
        }
    }

    /// Writes root attributes in sorted key order, so the file's bytes do not depend on dictionary order.
    func writeRootAttributes(_ attributes: [String: AttributeValue]) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        for name in attributes.keys.sorted() {
            try writeRootAttribute(name, attributes[name]!)
        }
    }

    private func writeRootAttribute(_ name: String, _ value: AttributeValue) throws(StorageError) {
        let context = "\(path):/@\(name)"
        let space = try HDF5Dataspace(dimensions: [], context: context)
        let stringType = try HDF5Datatype.variableString(context: context)
        let type: hid_t = switch value {
        case .string: stringType.id
        case .int: tf_H5T_STD_I64LE()
        case .double: tf_H5T_IEEE_F64LE()
        }
        let attribute = try HDF5Attribute(
            owning: H5Acreate2(id, name, type, space.id, tf_H5P_DEFAULT(), tf_H5P_DEFAULT()), context: context)
        let status: herr_t
        switch value {
        case .string(let string):
            status = HDF5Strings.withCStrings([string]) { pointers in
                pointers.withUnsafeBytes { H5Awrite(attribute.id, stringType.id, $0.baseAddress) }
            }
        case .int(var integer):
            status = H5Awrite(attribute.id, tf_H5T_NATIVE_INT64(), &integer)
        case .double(var real):
            status = H5Awrite(attribute.id, tf_H5T_NATIVE_DOUBLE(), &real)
        }
        try h5check(status, .write, context)
    }
}
