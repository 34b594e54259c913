/// Small non-HDF5 outputs (JSON reports) written the way ``AtomicHDF5Writer`` writes HDF5: to a registered
/// temporary sibling, fsynced, renamed into place, never over an input.
public enum AtomicFile {
    /// Writes `bytes` to `path`; refuses a path that is one of `inputs` (same file however spelled) before
    /// writing anything, and leaves nothing behind on failure or interrupt.
    public static func write(_ bytes: [UInt8], to path: String, distinctFrom inputs: [String] = []) throws(StorageError) {
        try AtomicHDF5Writer.checkWritable(path: path, distinctFrom: inputs)
        let temporary = TemporaryFiles.siblingPath(for: path)
        let registration = TemporaryFiles.register(temporary)
        defer { TemporaryFiles.forget(registration) }
        do throws(StorageError) {
            try POSIXFile.create(temporary, contents: bytes)
            try POSIXFile.move(temporary, to: path)
        } catch {
            POSIXFile.remove(temporary)
            throw error
        }
        try? POSIXFile.sync(POSIXFile.directory(of: path))
    }
}
