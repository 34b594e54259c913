import CHDF5

/// The numeric element types TailForge reads and writes.
public enum HDF5ElementKind: Sendable, Equatable {
    case float32, float64, int32, int64, uint8

    /// In-memory type: HDF5 converts whatever is on disk (float16/64, any integer width) to it on read.
    var nativeType: hid_t {
        switch self {
        case .float32: tf_H5T_NATIVE_FLOAT()
        case .float64: tf_H5T_NATIVE_DOUBLE()
        case .int32: tf_H5T_NATIVE_INT32()
        case .int64: tf_H5T_NATIVE_INT64()
        case .uint8: tf_H5T_NATIVE_UINT8()
        }
    }

    /// On-disk type: always little-endian standard types so files are byte-identical on every platform.
    var fileType: hid_t {
        switch self {
        case .float32: tf_H5T_IEEE_F32LE()
        case .float64: tf_H5T_IEEE_F64LE()
        case .int32: tf_H5T_STD_I32LE()
        case .int64: tf_H5T_STD_I64LE()
        case .uint8: tf_H5T_STD_U8LE()
        }
    }

    var elementClass: HDF5ElementClass {
        switch self {
        case .float32, .float64: .float
        case .int32, .int64, .uint8: .integer
        }
    }
}

/// A Swift scalar type that maps to an HDF5 numeric type.
public protocol HDF5Element: Sendable {
    static var hdf5Kind: HDF5ElementKind { get }
}

extension Float: HDF5Element { public static var hdf5Kind: HDF5ElementKind { .float32 } }
extension Double: HDF5Element { public static var hdf5Kind: HDF5ElementKind { .float64 } }
extension Int32: HDF5Element { public static var hdf5Kind: HDF5ElementKind { .int32 } }
extension Int64: HDF5Element { public static var hdf5Kind: HDF5ElementKind { .int64 } }
extension UInt8: HDF5Element { public static var hdf5Kind: HDF5ElementKind { .uint8 } }

/// The class of a dataset's elements as stored, used to reject e.g. strings where floats are expected.
public enum HDF5ElementClass: Sendable, Equatable, CustomStringConvertible {
    case integer, float, string, other(String)

    init(_ typeClass: H5T_class_t) {
        switch typeClass {
        case H5T_INTEGER: self = .integer
        case H5T_FLOAT: self = .float
        case H5T_STRING: self = .string
        case H5T_COMPOUND: self = .other("compound")
        case H5T_ENUM: self = .other("enum (e.g. boolean)")
        case H5T_OPAQUE: self = .other("opaque")
        case H5T_BITFIELD: self = .other("bitfield")
        case H5T_REFERENCE: self = .other("reference")
        case H5T_VLEN: self = .other("variable-length sequence")
        case H5T_ARRAY: self = .other("array")
        case H5T_TIME: self = .other("time")
        default: self = .other("unknown")
        }
    }

    public var description: String {
        switch self {
        case .integer: "integer"
        case .float: "floating-point"
        case .string: "string"
        case .other(let name): name
        }
    }
}

/// A dataset's values with its shape (row-major).
public struct HDF5Array<Element: HDF5Element>: Sendable {
    public var values: [Element]
    public var shape: [Int]

    public init(values: [Element], shape: [Int]) {
        self.values = values
        self.shape = shape
    }
}
