import CHDF5
import CTailForgeDirectWrite
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open HDF5 file; owns its id and closes it in `deinit`.
///
/// Safe to share between threads: every call goes through the process-wide HDF5 lock (see `HDF5Library`).
public final class HDF5File: @unchecked Sendable {
    /// The path the file was opened or created at.
    public let path: String
    private(set) var id: hid_t
    /// An in-memory file's slot for its final image (see ``createDeterministicInMemory(name:)``); nil for a file on disk.
    private let imageSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?

    private init(id: hid_t, path: String, imageSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>? = nil) {
        self.id = id
        self.path = path
        self.imageSlot = imageSlot
    }

    /// Opens an existing file, distinguishing a missing file from one that is not HDF5.
    public static func open(path: String, writable: Bool = false) throws(StorageError) -> HDF5File {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw .missingFile(path: path) }
            throw .ioFailed(path: path, operation: "stat", reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .notHDF5(path: path) }
        // HDF5's own probe would call an unreadable file "not HDF5".
        guard access(path, R_OK) == 0 else {
            throw .ioFailed(path: path, operation: "reading", reason: "\(String(cString: strerror(errno))); make it readable for this user")
        }
        HDF5Library.enter(); defer { HDF5Library.leave() }
        guard H5Fis_hdf5(path) > 0 else {
            _ = HDF5Library.takeErrorStack()
            throw .notHDF5(path: path)
        }
        let flags = writable ? tf_H5F_ACC_RDWR() : tf_H5F_ACC_RDONLY()
        // A writable open takes no lock, for the reason files created here take none: its exclusive `flock`
        // belongs to the open file description, which a child process spawned meanwhile by another thread
        // inherits and keeps for its whole life, so every later reader of the file failed with errno 11.
        let access = try fileAccessProperties(path: path, locking: !writable)
        let id: hid_t
        do throws(StorageError) { id = try h5id(H5Fopen(path, flags, access.id), .openFile, path) } catch {
            // HDF5 records the size it wrote in the superblock; a shorter file is an incomplete copy or write.
            if case .hdf5(let underlying) = error, underlying.stack.contains("truncated file") {
                throw .truncatedFile(path: path, bytes: Int64(status.st_size))
            }
            throw error
        }
        return HDF5File(id: id, path: path)
    }

    /// Whether TailForge moves the rows of the HDF5 files it creates and opens (writes and reads) past the page cache (the driver in
    /// CTailForgeDirectWrite): yes unless the environment sets `TAILFORGE_BUFFERED_IO` to anything but `0` (read
    /// once), for comparing the two and for a filesystem that takes O_DIRECT badly. The bytes are the same either way.
    public static let bypassesPageCache: Bool = {
        guard let value = getenv("TAILFORGE_BUFFERED_IO") else { return true }
        let text = String(cString: value)
        return text.isEmpty || text == "0"
    }()

    /// Creates (truncating) a file whose bytes depend only on what is written to it: no object modification
    /// times, explicit format bounds (1.8 … 1.10, all readable by h5py), and a close that fails rather than
    /// silently deferring while objects are still open. It takes no HDF5 file lock (see `fileAccessProperties`).
    static func createDeterministic(path: String, pastPageCache: Bool = bypassesPageCache) throws(StorageError) -> HDF5File {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let create = try HDF5PropertyList(class: tf_H5P_FILE_CREATE(), context: path)
        try h5check(H5Pset_obj_track_times(create.id, false), .propertyList, path)
        let access = try fileAccessProperties(path: path, locking: false)
        try h5check(H5Pset_libver_bounds(access.id, H5F_LIBVER_V18, H5F_LIBVER_V110), .propertyList, path)
        try h5check(H5Pset_fclose_degree(access.id, H5F_CLOSE_SEMI), .propertyList, path)
        if !pastPageCache { try h5check(H5Pset_fapl_sec2(access.id), .propertyList, path) }
        let id = try h5id(H5Fcreate(path, tf_H5F_ACC_TRUNC(), create.id, access.id), .createFile, path)
        return HDF5File(id: id, path: path)
    }

    /// Names of in-memory files: HDF5 refuses to create a file under the name of one that is open, so each gets its own.
    private static let inMemoryFiles = Atomic<Int>(0)

    /// Like ``createDeterministic(path:)``, but the file lives in memory only (HDF5's core driver without a backing
    /// store) and ``closeTakingImage()`` gives its bytes: the bytes `createDeterministic` writes to disk for the same
    /// calls. `name` only labels errors.
    static func createDeterministicInMemory(name: String) throws(StorageError) -> HDF5File {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let label = "\(name) (in memory)"
        let create = try HDF5PropertyList(class: tf_H5P_FILE_CREATE(), context: label)
        try h5check(H5Pset_obj_track_times(create.id, false), .propertyList, label)
        let access = try fileAccessProperties(path: label, locking: false)
        try h5check(H5Pset_libver_bounds(access.id, H5F_LIBVER_V18, H5F_LIBVER_V110), .propertyList, label)
        try h5check(H5Pset_fclose_degree(access.id, H5F_CLOSE_SEMI), .propertyList, label)
        let slot = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1)
        slot.initialize(to: nil)
        do throws(StorageError) {
            // Grown 4 MiB at a time (realloc): the increment changes how often memory grows, not the file's bytes.
            try h5check(tf_H5Pset_core_image_capture(access.id, 4 << 20, slot), .propertyList, label)
            let unique = "tailforge-memory-\(getpid())-\(inMemoryFiles.add(1, ordering: .relaxed).newValue)"
            let id = try h5id(H5Fcreate(unique, tf_H5F_ACC_TRUNC(), create.id, access.id), .createFile, label)
            return HDF5File(id: id, path: label, imageSlot: slot)
        } catch {
            slot.deallocate()
            throw error
        }
    }

    /// Closes an in-memory file (``createDeterministicInMemory(name:)``) and returns its bytes, exactly those a file
    /// on disk holds after the same calls and its close.
    func closeTakingImage() throws(StorageError) -> HDF5FileImage {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        guard let imageSlot, id >= 0 else { throw .invalidArgument("\(path) is not an open in-memory file") }
        try h5check(H5Fflush(id, H5F_SCOPE_LOCAL), .flushFile, path)
        // The file's length is its end of allocation, known once flushed (the close does not move it); the core
        // driver's buffer is longer, grown in whole increments.
        let length = H5Fget_file_image(id, nil, 0)
        guard length > 0 else { throw .hdf5(.current(.fileImage, path)) }
        try h5check(H5Fclose(id), .closeFile, path)
        id = -1
        guard let bytes = imageSlot.pointee else { throw .hdf5(HDF5Error(operation: .fileImage, objectPath: path, stack: "the core driver released no image at close")) }
        imageSlot.pointee = nil
        return HDF5FileImage(owning: bytes, count: length)
    }

    /// Readers keep HDF5's file locking (a shared lock, so a tool writing the file in place makes the open fail
    /// instead of reading half a file) but tolerate file systems without it (NFS and other shared file systems
    /// the cluster's workers read from), where HDF5 1.10 would otherwise refuse to open any file.
    ///
    /// Files created here are never locked. They are only ever the private `.NAME.tmp-PID-N` of an atomic
    /// writer, which nothing else opens before the rename, so the lock would guard nothing; and HDF5 locks with
    /// `flock`, whose lock belongs to the open file description, which every child process started meanwhile
    /// shares (Foundation's `Process` on Linux leaks descriptors another thread opens while it spawns, and any
    /// child holds all of them until its exec). Such a child kept the writer's exclusive lock after the commit,
    /// and readers of the finished file failed with "unable to lock file, errno = 11" until the child exited.
    private static func fileAccessProperties(path: String, locking: Bool = true) throws(StorageError) -> HDF5PropertyList {
        let access = try HDF5PropertyList(class: tf_H5P_FILE_ACCESS(), context: path)
        try h5check(H5Pset_file_locking(access.id, locking, true), .propertyList, path)
        if bypassesPageCache {
            // sec2 with the rows past the page cache: the same bytes at the same offsets (CTailForgeDirectWrite).
            let driver = try h5id(tailforge_direct_write_driver(), .propertyList, path)
            try h5check(H5Pset_driver(access.id, driver, nil), .propertyList, path)
        }
        return access
    }

    /// Paths (without the leading slash) of every dataset in the file, in name order.
    public var datasetNames: [String] {
        get throws(StorageError) {
            HDF5Library.enter(); defer { HDF5Library.leave() }
            final class Collector { var names: [String] = [] }
            let collector = Collector()
            let status = H5Lvisit(id, H5_INDEX_NAME, H5_ITER_INC, { group, name, _, context in
                guard let name, let context else { return 0 }
                let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
                let object = H5Oopen(group, name, tf_H5P_DEFAULT())
                if object >= 0 {
                    if H5Iget_type(object) == H5I_DATASET { collector.names.append(String(cString: name)) }
                    _ = H5Oclose(object)
                } else {
                    _ = H5Eclear2(tf_H5E_DEFAULT())  // dangling soft or external link: not a dataset
                }
                return 0
            }, Unmanaged.passUnretained(collector).toOpaque())
            try h5check(status, .listObjects, path)
            return collector.names
        }
    }

    /// Whether `name` (slash-separated, relative to the root) names an existing link.
    public func contains(_ name: String) -> Bool {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        var prefix = ""
        for component in name.split(separator: "/") {
            prefix += prefix.isEmpty ? String(component) : "/" + component
            guard H5Lexists(id, prefix, tf_H5P_DEFAULT()) > 0 else {
                _ = H5Eclear2(tf_H5E_DEFAULT())
                return false
            }
        }
        return !prefix.isEmpty
    }

    /// Opens a dataset; a missing one is reported with the list of datasets that do exist.
    public func openDataset(_ name: String) throws(StorageError) -> HDF5Dataset {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        guard contains(name) else {
            throw .missingDataset(file: path, dataset: name, available: (try? datasetNames) ?? [])
        }
        let id = H5Dopen2(self.id, name, tf_H5P_DEFAULT())
        guard id >= 0 else {
            _ = HDF5Library.takeErrorStack()  // the link exists but is a group or a dangling link
            throw .missingDataset(file: path, dataset: name, available: (try? datasetNames) ?? [])
        }
        return try HDF5Dataset(file: self, name: name, owning: id)
    }

    /// Opens a dataset and checks its rank and element class against a contract (and, for a virtual
    /// dataset, that its source files exist).
    public func openDataset(
        _ name: String, rank: Int, elementClass: HDF5ElementClass
    ) throws(StorageError) -> HDF5Dataset {
        let dataset = try openDataset(name)
        guard dataset.elementClass == elementClass else {
            throw .wrongElementClass(file: path, dataset: name, expected: elementClass, actual: dataset.elementClass)
        }
        guard dataset.shape.count == rank else {
            throw .wrongRank(file: path, dataset: name, expected: rank, shape: dataset.shape)
        }
        try dataset.checkVirtualSources()
        return dataset
    }

    /// Reads a whole numeric dataset (converted to `Element`) with its shape.
    public func readDataset<Element: HDF5Element>(
        _ name: String, as type: Element.Type = Element.self
    ) throws(StorageError) -> HDF5Array<Element> {
        let dataset = try openDataset(name)
        guard dataset.elementClass == .integer || dataset.elementClass == .float else {
            throw .wrongElementClass(
                file: path, dataset: name, expected: Element.hdf5Kind.elementClass, actual: dataset.elementClass)
        }
        return HDF5Array(values: try dataset.read(as: type), shape: dataset.shape)
    }

    /// Creates a numeric dataset: chunked by `chunkRows` rows when given, contiguous otherwise; no times.
    func createDataset(
        _ name: String, kind: HDF5ElementKind, shape: [Int], chunkRows: Int?
    ) throws(StorageError) -> HDF5Dataset {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let context = "\(path):/\(name)"
        let space = try HDF5Dataspace(dimensions: shape, context: context)
        let create = try datasetCreateProperties(context: context)
        if let chunkRows, let rows = shape.first, rows > 0, !shape.contains(0) {
            // Fixed extent known up front, so a chunk never needs to be larger than the dataset.
            let chunk = [hsize_t(min(chunkRows, rows))] + shape.dropFirst().map { hsize_t($0) }
            try h5check(H5Pset_chunk(create.id, Int32(chunk.count), chunk), .propertyList, context)
        }
        let id = try h5id(
            H5Dcreate2(self.id, name, kind.fileType, space.id, tf_H5P_DEFAULT(), create.id, tf_H5P_DEFAULT()),
            .createDataset, context)
        return try HDF5Dataset(file: self, name: name, owning: id)
    }

    /// Creates and fills a 1-D dataset of variable-length UTF-8 strings.
    func writeStrings(_ name: String, _ values: [String]) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let context = "\(path):/\(name)"
        let type = try HDF5Datatype.variableString(context: context)
        let space = try HDF5Dataspace(dimensions: [values.count], context: context)
        let create = try datasetCreateProperties(context: context)
        let dataset = try HDF5Dataset(
            file: self, name: name,
            owning: H5Dcreate2(id, name, type.id, space.id, tf_H5P_DEFAULT(), create.id, tf_H5P_DEFAULT()))
        defer { dataset.close() }
        guard !values.isEmpty else { return }
        let status = HDF5Strings.withCStrings(values) { pointers in
            pointers.withUnsafeBytes { H5Dwrite(dataset.id, type.id, space.id, space.id, tf_H5P_DEFAULT(), $0.baseAddress) }
        }
        try h5check(status, .write, context)
    }

    private func datasetCreateProperties(context: String) throws(StorageError) -> HDF5PropertyList {
        let create = try HDF5PropertyList(class: tf_H5P_DATASET_CREATE(), context: context)
        try h5check(H5Pset_obj_track_times(create.id, false), .propertyList, context)
        return create
    }

    /// Waits until this file's writes past the page cache (CTailForgeDirectWrite finishes each large write's last
    /// piece while the caller goes on) have reached the device, and throws a failed one (a full disk) with its cause.
    /// Writers call it after their last rows and before flush and close: HDF5 1.10 does not recover from a failure
    /// found inside H5Fclose.
    public func settleWritesPastPageCache() throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        guard id >= 0 else { return }
        var message = [CChar](repeating: 0, count: 256)
        let failure = tailforge_direct_write_settle(id, &message, message.count)
        guard failure == 0 else {
            throw .hdf5(HDF5Error(operation: .write, objectPath: path, stack: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
    }

    /// Flushes buffered data and metadata to the file.
    public func flush() throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        try h5check(H5Fflush(id, H5F_SCOPE_LOCAL), .flushFile, path)
    }

    /// Closes the file, reporting failure (deinit closes silently instead).
    public func close() throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        guard id >= 0 else { return }
        // On failure the id stays valid, so a caller (or deinit) can retry once the cause is gone.
        try h5check(H5Fclose(id), .closeFile, path)
        id = -1
    }

    deinit {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        if id >= 0 {
            _ = H5Fclose(id)
            _ = H5Eclear2(tf_H5E_DEFAULT())
        }
        if let imageSlot {
            free(imageSlot.pointee)  // an image nobody took (the file was abandoned)
            imageSlot.deallocate()
        }
    }
}
