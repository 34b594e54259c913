import Synchronization
import TailForgeNumerics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes an HDF5 file atomically: everything goes to a hidden temporary sibling (`.NAME.tmp-PID-N`), which
/// `commit()` flushes, closes, fsyncs and renames into place. A writer released without committing (or
/// `abandon()`ed) removes the temporary file, so a failed job never leaves a partial output; the file is in
/// ``TemporaryFiles`` while it exists, so an interrupt (Ctrl-C, SIGTERM) removes it too.
///
/// The file is created so that its bytes depend only on what is written and in which order: no object
/// modification times, explicit format version bounds. The model and prediction files use this directly;
/// `BalancedDatasetWriter` builds on it.
///
/// A writer made with ``init(inMemoryNamed:)`` builds the same bytes in memory and never touches the disk;
/// ``commitImage()`` hands them over. It is for a file that is wanted only for its digest.
public final class AtomicHDF5Writer {
    /// Where the file appears on commit.
    public let path: String
    /// Where it is written until then; nil for a file built in memory.
    public let temporaryPath: String?
    let file: HDF5File
    private var datasets: [HDF5Dataset] = []
    private var state = State.open
    private let registration: Int32?

    private enum State { case open, committed, abandoned }

    /// Checks the output location, then creates the temporary file.
    /// `pastPageCache`: large row writes bypass the page cache where the filesystem allows (the default, see
    /// ``HDF5File/bypassesPageCache``); the file's bytes are the same either way.
    public init(path: String, pastPageCache: Bool = HDF5File.bypassesPageCache) throws(StorageError) {
        try Self.checkWritable(path: path)
        self.path = path
        let temporaryPath = TemporaryFiles.siblingPath(for: path)
        self.temporaryPath = temporaryPath
        // Registered before it exists, so there is no moment when an interrupt would leave it behind.
        let registration = TemporaryFiles.register(temporaryPath)
        self.registration = registration
        do throws(StorageError) {
            file = try Self.createTemporary(temporaryPath, for: path, pastPageCache: pastPageCache)
        } catch {
            TemporaryFiles.forget(registration)
            throw error
        }
    }

    /// Builds the file in memory: the bytes ``init(path:)`` and ``commit(digestingFile:)`` would leave on disk for
    /// the same calls, which ``commitImage()`` returns. `name` stands for the path in errors.
    public init(inMemoryNamed name: String) throws(StorageError) {
        path = name
        temporaryPath = nil
        registration = nil
        file = try HDF5File.createDeterministicInMemory(name: name)
    }

    private static func createTemporary(_ temporaryPath: String, for path: String, pastPageCache: Bool) throws(StorageError) -> HDF5File {
        do throws(StorageError) {
            return try HDF5File.createDeterministic(path: temporaryPath, pastPageCache: pastPageCache)
        } catch {
            POSIXFile.remove(temporaryPath)
            if case .hdf5(let underlying) = error { throw .writeFailed(path: path, underlying: underlying) }
            throw error
        }
    }

    /// Fails early, before any work, when `path` cannot be written: its directory is missing, not writable,
    /// `path` is itself a directory, or it is the same file as one of `inputs`.
    public static func checkWritable(path: String, distinctFrom inputs: [String] = []) throws(StorageError) {
        for input in inputs where POSIXFile.isSameFile(path, input) {
            throw .outputIsInput(path: path, input: input)
        }
        guard !path.isEmpty else { throw .outputNotWritable(path: path, reason: "the output path is empty") }
        if POSIXFile.isDirectory(path) {
            throw .outputNotWritable(path: path, reason: "it is a directory; give a file name")
        }
        let directory = POSIXFile.directory(of: path)
        guard POSIXFile.isDirectory(directory) else {
            // "does not exist. Create it first." would be wrong advice for a file standing where the directory goes.
            if POSIXFile.exists(directory) {
                throw .outputNotWritable(path: path, reason: "\(directory) is a file, not a directory")
            }
            throw .outputDirectoryMissing(path: path, directory: directory)
        }
        guard access(directory, W_OK) == 0 else {
            throw .outputNotWritable(path: path, reason: "directory \(directory): \(POSIXFile.errorText())")
        }
    }

    /// Writes root attributes (in sorted key order).
    public func writeAttributes(_ attributes: [String: AttributeValue]) throws(StorageError) {
        try mapWriteFailure { () throws(StorageError) in try file.writeRootAttributes(attributes) }
    }

    /// Creates a numeric dataset to fill with `HDF5Dataset.write(_:rows:)`; chunked by `chunkRows` when given.
    /// The writer closes it on commit.
    public func createDataset(
        _ name: String, kind: HDF5ElementKind, shape: [Int], chunkRows: Int? = nil
    ) throws(StorageError) -> HDF5Dataset {
        let dataset = try mapWriteFailure { () throws(StorageError) in
            try file.createDataset(name, kind: kind, shape: shape, chunkRows: chunkRows)
        }
        datasets.append(dataset)
        return dataset
    }

    /// Creates and fills a numeric dataset in one call (`values.count` must equal the product of `shape`).
    public func writeDataset<Element: HDF5Element>(
        _ name: String, values: [Element], shape: [Int], chunkRows: Int? = nil
    ) throws(StorageError) {
        guard values.count == shape.reduce(1, *) else {
            throw .invalidArgument("\(values.count) values for dataset /\(name) of shape \(shape)")
        }
        let dataset = try createDataset(name, kind: Element.hdf5Kind, shape: shape, chunkRows: chunkRows)
        try mapWriteFailure { () throws(StorageError) in
            try dataset.write(values, rows: 0..<dataset.rowCount)
        }
    }

    /// Creates and fills a 1-D dataset of UTF-8 strings (e.g. /class_names).
    public func writeStrings(_ name: String, _ values: [String]) throws(StorageError) {
        try mapWriteFailure { () throws(StorageError) in try file.writeStrings(name, values) }
    }

    /// Tests set this environment variable to hold every commit for so many milliseconds, so that a signal can
    /// be sent to a real process while its temporary file exists.
    public static let testCommitDelayVariable = "TAILFORGE_TEST_COMMIT_DELAY_MS"
    private static let testCommitDelay: Int? = getenv(testCommitDelayVariable).flatMap { Int(String(cString: $0)) }

    /// Flushes, closes, fsyncs and renames the file into place. On failure the temporary file is removed
    /// and the error names the final path.
    ///
    /// With `digestingFile`, the file's SHA-256 is read on a thread of its own from the moment HDF5 has closed
    /// the file (its bytes are final then) while the fsync waits for the disk: HDF5 does not write a file front
    /// to back, so the digest is a second read, but it need not come after the slowest step. The returned
    /// function waits for it; it gives nil when no digest was asked for or the read failed.
    @discardableResult
    public func commit(digestingFile: Bool = false) throws(StorageError) -> () -> String? {
        guard state == .open else { throw .invalidArgument("commit of a writer for \(path) that is already closed") }
        guard let temporaryPath, let registration else {
            throw .invalidArgument("commit of the in-memory file \(path): take its bytes with commitImage()")
        }
        if let milliseconds = Self.testCommitDelay, milliseconds > 0 { POSIXFile.sleep(milliseconds: milliseconds) }
        var digest: () -> String? = { nil }
        do throws(StorageError) {
            try mapWriteFailure { () throws(StorageError) in
                // Rows still on their way past the page cache are settled before and after the datasets close
                // (which may write the last chunks): a failure is reported here, not from inside H5Fclose.
                try file.settleWritesPastPageCache()
                for dataset in datasets { try dataset.closeReportingErrors() }
                datasets.removeAll()
                try file.settleWritesPastPageCache()
                try file.flush()
                try file.close()
            }
            // Opened here, before the rename, so the reader has the file whatever happens to its name.
            // Past the page cache where the filesystem allows it: the rows were written that way (HDF5File's driver).
            if digestingFile, let (descriptor, direct) = SHA256.openForDigestPastPageCache(temporaryPath).map({ ($0, true) })
                ?? (try? SHA256.openForDigest(temporaryPath)).map({ ($0, false) }) {
                let path = self.path
                let reading = ComputePool.inBackground(named: "tailforge-output-digest") { () throws(StorageError) in
                    defer { _ = close(descriptor) }
                    return direct ? try SHA256.hexDigestPastPageCache(ofOpenFile: descriptor, path: path)
                        : try SHA256.hexDigest(ofOpenFile: descriptor, path: path)
                }
                digest = { try? reading().get() }
            }
            try POSIXFile.sync(temporaryPath)
            try POSIXFile.move(temporaryPath, to: path)
            state = .committed
            TemporaryFiles.forget(registration)
            try POSIXFile.sync(POSIXFile.directory(of: path))
        } catch {
            abandon()
            throw error
        }
        return digest
    }

    /// Closes an in-memory file (``init(inMemoryNamed:)``) and returns its bytes. On failure nothing is kept.
    public func commitImage() throws(StorageError) -> HDF5FileImage {
        guard state == .open else { throw .invalidArgument("commit of a writer for \(path) that is already closed") }
        guard temporaryPath == nil else { throw .invalidArgument("commitImage of \(path), which is written to disk: use commit()") }
        do throws(StorageError) {
            let image = try mapWriteFailure { () throws(StorageError) in
                for dataset in datasets { try dataset.closeReportingErrors() }
                datasets.removeAll()
                return try file.closeTakingImage()
            }
            state = .committed
            return image
        } catch {
            abandon()
            throw error
        }
    }

    /// Discards the output: closes everything and removes the temporary file. Idempotent.
    public func abandon() {
        guard state == .open else { return }
        state = .abandoned
        // A write past the page cache that failed and was not reported yet is dropped here: reported from inside
        // H5Fclose it would fail the close, and HDF5 1.10 crashes when a failed close is retried.
        try? file.settleWritesPastPageCache()
        for dataset in datasets { dataset.close() }
        datasets.removeAll()
        try? file.settleWritesPastPageCache()
        guard let temporaryPath, let registration else {
            try? file.close()  // in memory: the file's image goes with it
            return
        }
        // Empty the file first: after a disk-full failure HDF5 still holds dirty metadata and its close must be
        // able to write it, or HDF5 1.10 is left with a half-destroyed file that crashes the process at exit.
        // Freeing the data blocks gives it the room; the contents are being discarded anyway.
        POSIXFile.truncate(temporaryPath)
        try? file.close()
        POSIXFile.remove(temporaryPath)
        TemporaryFiles.forget(registration)
    }

    /// HDF5 failures while writing become `writeFailed` naming the final output path (typically disk full).
    func mapWriteFailure<T>(_ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        do throws(StorageError) {
            return try body()
        } catch {
            if case .hdf5(let underlying) = error { throw .writeFailed(path: path, underlying: underlying) }
            throw error
        }
    }

    deinit { abandon() }
}
