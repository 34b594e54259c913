import CHDF5
import Foundation
import Testing
@testable import TailForgeStorage
import TailForgeTestSupport

/// Builds input files straight through the HDF5 C API, so tests can create what TailForge itself never
/// writes (float16, float64, odd integer widths, fixed-length strings, wrong shapes) without h5py.
/// Swift Testing runs tests in parallel and serial HDF5 is not thread-safe, so every call takes the library's
/// lock, as the wrapper does.
final class RawHDF5File {
    let id: hid_t

    init(path: String) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        // Unlocked, as TailForge's own writers create files (`HDF5File.createDeterministic`): a child process
        // another test spawns while this file is open inherits its descriptor, and with it HDF5's exclusive flock,
        // so the reader under test failed "unable to lock file, errno = 11" (a full-suite flake).
        let access = H5Pcreate(tf_H5P_FILE_ACCESS())
        defer { _ = H5Pclose(access) }
        _ = H5Pset_file_locking(access, false, true)
        id = H5Fcreate(path, tf_H5F_ACC_TRUNC(), tf_H5P_DEFAULT(), access)
        precondition(id >= 0, "cannot create \(path)")
    }

    deinit {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        _ = H5Fclose(id)
    }

    /// Writes `values` (given as native `Element`s) converted by HDF5 to `fileType` on disk.
    func write<Element>(
        _ name: String, _ values: [Element], shape: [Int], memoryType: hid_t, fileType: hid_t, deflate: Bool = false
    ) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
        defer { _ = H5Sclose(space) }
        let create = H5Pcreate(tf_H5P_DATASET_CREATE())
        defer { _ = H5Pclose(create) }
        if deflate {
            // Chunked and gzip-compressed, as h5py writes with `compression="gzip"`.
            var chunk = dims
            chunk[0] = max(1, min(dims[0], 3))
            _ = H5Pset_chunk(create, Int32(chunk.count), chunk)
            _ = H5Pset_deflate(create, 4)
        }
        let dataset = H5Dcreate2(id, name, fileType, space, tf_H5P_DEFAULT(), create, tf_H5P_DEFAULT())
        precondition(dataset >= 0, "cannot create /\(name)")
        defer { _ = H5Dclose(dataset) }
        if !values.isEmpty {
            let status = values.withUnsafeBytes {
                H5Dwrite(dataset, memoryType, tf_H5S_ALL(), tf_H5S_ALL(), tf_H5P_DEFAULT(), $0.baseAddress)
            }
            precondition(status >= 0, "cannot write /\(name)")
        }
    }

    func floats(
        _ name: String, _ values: [Float], shape: [Int], fileType: hid_t = tf_H5T_IEEE_F32LE(), deflate: Bool = false
    ) {
        write(name, values, shape: shape, memoryType: tf_H5T_NATIVE_FLOAT(), fileType: fileType, deflate: deflate)
    }

    func halfFloats(_ name: String, _ values: [Float], shape: [Int]) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let half = tf_H5T_IEEE_F16LE_COPY()
        defer { _ = H5Tclose(half) }
        floats(name, values, shape: shape, fileType: half)
    }

    func doubles(_ name: String, _ values: [Double], shape: [Int]) {
        write(name, values, shape: shape, memoryType: tf_H5T_NATIVE_DOUBLE(), fileType: tf_H5T_IEEE_F64LE())
    }

    func integers(_ name: String, _ values: [Int64], shape: [Int], fileType: hid_t = tf_H5T_STD_I64LE()) {
        write(name, values, shape: shape, memoryType: tf_H5T_NATIVE_INT64(), fileType: fileType)
    }

    func group(_ name: String) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let group = H5Gcreate2(id, name, tf_H5P_DEFAULT(), tf_H5P_DEFAULT(), tf_H5P_DEFAULT())
        _ = H5Gclose(group)
    }

    /// Fixed-length, NUL-padded byte strings (numpy `S` arrays).
    func fixedStrings(_ name: String, _ values: [String], width: Int) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let type = H5Tcopy(tf_H5T_C_S1())
        defer { _ = H5Tclose(type) }
        _ = H5Tset_size(type, width)
        _ = H5Tset_strpad(type, H5T_STR_NULLPAD)
        var bytes = [UInt8](repeating: 0, count: values.count * width)
        for (index, value) in values.enumerated() {
            for (offset, byte) in value.utf8.prefix(width).enumerated() { bytes[index * width + offset] = byte }
        }
        write(name, bytes, shape: [values.count], memoryType: type, fileType: type)
    }

    /// Variable-length UTF-8 strings (what h5py writes for `str`).
    func variableStrings(_ name: String, _ values: [String]) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let type = H5Tcopy(tf_H5T_C_S1())
        defer { _ = H5Tclose(type) }
        _ = H5Tset_size(type, tf_H5T_VARIABLE())
        _ = H5Tset_cset(type, H5T_CSET_UTF8)
        let pointers = values.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        write(name, pointers, shape: [values.count], memoryType: type, fileType: type)
    }
}

/// Runs `body` and returns the `StorageError` it throws (nil if it throws nothing).
func storageError<T>(_ body: () throws -> T) -> StorageError? {
    do {
        _ = try body()
        return nil
    } catch let error as StorageError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// A small deterministic table of rows for writer tests: row i of the embeddings holds i*d … i*d+d−1 scaled.
struct SampleRows {
    let dimension: Int
    let count: Int
    var embeddings: [Float] { (0..<(count * dimension)).map { Float($0) * 0.25 - 3 } }
    var labels: [Int32] { (0..<count).map { Int32($0 % 3) } }
    var isSynthetic: [UInt8] { (0..<count).map { UInt8($0 % 2) } }
    var sourceIndex: [Int64] { (0..<count).map { Int64($0 / 2) } }
    var kappa: [Float] { (0..<count).map { $0 % 2 == 1 ? Float($0) * 10 : 0 } }
}

/// A tiny tmpfs mounted on a fresh directory (needs root; the sandbox allows it). Unmounted when released.
final class ScratchMount {
    let directory = TemporaryDirectory("storage")
    let path: String

    /// Nil (with the reason printed) when the mount is impossible here, e.g. when not running as root.
    init?(size: String, readOnly: Bool = false) {
        path = directory.file("mnt")
        guard getuid() == 0 else {
            print("skipping: mounting a tmpfs needs root (uid \(getuid()))")
            return nil
        }
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let options = "size=\(size)" + (readOnly ? ",ro" : "")
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", path]) else {
            print("skipping: `mount -t tmpfs -o \(options)` failed in this environment")
            return nil
        }
    }

    func file(_ name: String) -> String { path + "/" + name }

    var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted() ?? [] }

    deinit { _ = Self.run("/bin/umount", [path]) }

    private static func run(_ tool: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}

/// Appends `rows` to `writer` in batches of the given sizes (which must sum to rows.count).
func append(_ rows: SampleRows, to writer: BalancedDatasetWriter, batches: [Int]) throws {
    let (embeddings, labels, isSynthetic, sourceIndex, kappa) =
        (rows.embeddings, rows.labels, rows.isSynthetic, rows.sourceIndex, rows.kappa)
    var start = 0
    for size in batches {
        let range = start..<(start + size)
        try writer.append(
            embeddings: Array(embeddings[(range.lowerBound * rows.dimension)..<(range.upperBound * rows.dimension)]),
            labels: Array(labels[range]), isSynthetic: Array(isSynthetic[range]),
            sourceIndex: Array(sourceIndex[range]), kappa: Array(kappa[range]))
        start += size
    }
}
