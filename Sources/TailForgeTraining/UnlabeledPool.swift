import Foundation
import TailForgeNumerics
import TailForgeStorage

/// The unlabeled rows of `train --classifier vmf-mixture --unlabeled FILE`: each file's embeddings (a `/labels`
/// dataset, if the file has one, is not read: an unlabeled pool may be any embeddings file), scaled to unit length
/// as every reader scales rows, appended in file order. Read and checked before the cross-validation starts.
struct UnlabeledPool: Sendable {
    let rows: Matrix
    let files: [String]
    /// Each file's SHA-256, as the model records it.
    let sha256: [String]

    /// nil for no files. Every file must open, have rows of the training files' `dimension`, and not be one of the
    /// training files (its rows would be counted twice, once labelled and once not).
    static func load(_ paths: [String], embeddings name: String, dimension: Int, trainingFiles: [TrainingInputFile]) throws -> UnlabeledPool? {
        guard !paths.isEmpty else { return nil }
        var rows = Matrix(rows: 0, columns: dimension)
        var digests: [String] = []
        let training = Set(trainingFiles.map { URL(fileURLWithPath: $0.path).resolvingSymlinksInPath().path })
        let trainingIdentities = Set(trainingFiles.map(\.identity))
        for path in paths {
            let dataset = try EmbeddingsDataset(path: path, name: name)
            guard dataset.dimension == dimension else {
                throw TrainingError.dimensionMismatch(shard: path, expected: dimension, found: dataset.dimension)
            }
            guard dataset.count > 0 else { throw TrainingError.emptyShard(shard: path) }
            let digest = try SHA256.hexDigest(ofFileAt: path)
            if training.contains(URL(fileURLWithPath: path).resolvingSymlinksInPath().path) || trainingIdentities.contains(digest) {
                throw TrainingError.invalidSetting(name: "unlabeled file", value: path,
                                                   expected: "a file that is not also a training input (its rows would count twice, labelled and unlabeled): pass a pool of other rows")
            }
            rows.appendRows(try dataset.readUnitMatrix(rows: 0 ..< dataset.count))
            digests.append(digest)
        }
        return UnlabeledPool(rows: rows, files: paths, sha256: digests)
    }
}
