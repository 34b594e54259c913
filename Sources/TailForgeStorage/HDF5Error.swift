import CHDF5

/// A failed HDF5 call: which operation, on which file or object, and the library's own error-stack text.
public struct HDF5Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of HDF5 operation that failed.
    public struct Operation: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let openFile = Operation(rawValue: "open file")
        public static let createFile = Operation(rawValue: "create file")
        public static let flushFile = Operation(rawValue: "flush file")
        public static let closeFile = Operation(rawValue: "close file")
        public static let openDataset = Operation(rawValue: "open dataset")
        public static let createDataset = Operation(rawValue: "create dataset")
        public static let closeDataset = Operation(rawValue: "close dataset")
        public static let inspect = Operation(rawValue: "inspect object")
        public static let read = Operation(rawValue: "read")
        public static let write = Operation(rawValue: "write")
        public static let dataspace = Operation(rawValue: "dataspace")
        public static let datatype = Operation(rawValue: "datatype")
        public static let propertyList = Operation(rawValue: "property list")
        public static let attribute = Operation(rawValue: "attribute")
        public static let listObjects = Operation(rawValue: "list objects")
        public static let fileImage = Operation(rawValue: "file image")
    }

    public let operation: Operation
    /// File path, or `file:/dataset` for an object inside a file.
    public let objectPath: String
    /// The HDF5 error stack, outermost call first.
    public let stack: String

    public init(operation: Operation, objectPath: String, stack: String) {
        self.operation = operation
        self.objectPath = objectPath
        self.stack = stack
    }

    public var description: String {
        "HDF5 \(operation) failed for \(objectPath): \(stack)"
    }

    /// Builds the error from (and clears) the current HDF5 error stack. Caller holds the HDF5 lock.
    static func current(_ operation: Operation, _ objectPath: String) -> HDF5Error {
        HDF5Error(operation: operation, objectPath: objectPath, stack: HDF5Library.takeErrorStack())
    }
}

/// Turns a negative HDF5 status into a thrown error. Caller holds the HDF5 lock.
func h5check(_ status: herr_t, _ operation: HDF5Error.Operation, _ objectPath: String) throws(StorageError) {
    if status < 0 { throw .hdf5(.current(operation, objectPath)) }
}

/// Turns a negative HDF5 id into a thrown error. Caller holds the HDF5 lock.
func h5id(_ id: hid_t, _ operation: HDF5Error.Operation, _ objectPath: String) throws(StorageError) -> hid_t {
    if id < 0 { throw .hdf5(.current(operation, objectPath)) }
    return id
}
