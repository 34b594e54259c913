import TailForgeNumerics
import TailForgeStorage

extension EmbeddingsDataset {
    /// Reads rows `rows` as unit rows straight into a new matrix (one copy in memory, no staging array): the
    /// model is trained on, and applied to, directions only, exactly as `balance` sees them.
    func readUnitMatrix(rows: Range<Int>) throws(StorageError) -> Matrix {
        Matrix(rows: rows.count, columns: dimension, storage: try readUnitRows(rows: rows))
    }
}

extension TrainingShard {
    /// Loads a whole labelled-embeddings file (the balanced output contract in either layout — a compact file's
    /// synthetic rows are regenerated — or any file with embeddings and labels) as one shard, rows scaled to unit
    /// length, checking values and labels; the shard is named after the path.
    public static func load(path: String, names: DatasetNames = .standard) throws -> TrainingShard {
        try TrainingInputFile(path: path, names: names).load().shard
    }
}

/// The file name without its directories.
func baseName(_ path: String) -> String {
    path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
}
