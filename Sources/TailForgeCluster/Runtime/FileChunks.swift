import Foundation

/// Reading and writing files in the chunks the data-streaming messages carry.
enum FileChunks {
    /// Up to `length` bytes of `path` from `offset`, the file's size, or an error text.
    static func read(path: String, offset: Int64, length: Int) -> (bytes: [UInt8], total: Int64, error: String?) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ([], 0, "cannot open \(path)") }
        defer { try? handle.close() }
        do {
            let total = Int64(try handle.seekToEnd())
            guard offset >= 0, offset <= total, length >= 0 else {
                return ([], total, "range \(offset)+\(length) is outside \(path) (\(total) bytes)")
            }
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: length) ?? Data()
            return ([UInt8](data), total, nil)
        } catch {
            return ([], 0, "reading \(path) failed: \(error)")
        }
    }
}
