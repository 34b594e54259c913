import TailForgeNumerics
import TailForgeStorage

extension LabeledEmbeddingsFile {
    /// Reads rows `rows` straight into a new matrix (one copy in memory, no staging array).
    func readMatrix(rows: Range<Int>) throws(StorageError) -> Matrix {
        var failure: StorageError?
        let storage = [Float](unsafeUninitializedCapacity: rows.count * dimension) { buffer, initialised in
            do throws(StorageError) {
                try readEmbeddings(rows: rows, into: buffer)
                initialised = rows.count * dimension
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return Matrix(rows: rows.count, columns: dimension, storage: storage)
    }
}

extension TrainingShard {
    /// Loads a whole labelled-embeddings file (the balanced output contract, or any file with /embeddings
    /// and /labels) as one shard, checking values and labels; the shard is named after the path.
    public static func load(path: String) throws -> TrainingShard {
        let file = try LabeledEmbeddingsFile(path: path)
        guard file.count > 0 else { throw TrainingError.emptyShard(shard: path) }
        let labels = try file.readLabels()
        return try TrainingShard(name: path, embeddings: file.readMatrix(rows: 0 ..< file.count), labels: labels)
    }
}

/// The file name without its directories.
func baseName(_ path: String) -> String {
    path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
}
