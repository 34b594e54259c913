import Foundation
import TailForgeNumerics
import TailForgeStorage

/// Where a job's long-tailed input lives and how its datasets are named.
public struct InputSpec: Sendable, Equatable, Hashable, Codable {
    public var path: String
    public var embeddingsDataset: String
    public var labelsDataset: String
    /// Optional; when present its length fixes the number of classes.
    public var classNamesDataset: String?
    /// The number of classes when there are no class names (default: largest label + 1).
    public var classCount: Int?

    /// The most classes an input may have: every class carries bookkeeping whether or not it has rows, so a
    /// stray label of 2 000 000 000 must be an error, not an allocation of billions of empty classes.
    public static let maximumClassCount = 1 << 24

    /// The dataset names, for the readers.
    public var datasetNames: DatasetNames {
        DatasetNames(embeddings: embeddingsDataset, labels: labelsDataset, classNames: classNamesDataset)
    }

    public init(path: String, embeddingsDataset: String = "embeddings", labelsDataset: String = "labels",
                classNamesDataset: String? = "class_names", classCount: Int? = nil) {
        self.path = path
        self.embeddingsDataset = embeddingsDataset
        self.labelsDataset = labelsDataset
        self.classNamesDataset = classNamesDataset
        self.classCount = classCount
    }

    enum CodingKeys: String, CodingKey {
        case path, embeddingsDataset = "embeddings_dataset", labelsDataset = "labels_dataset"
        case classNamesDataset = "class_names_dataset", classCount = "classes"
    }
}

/// A long-tailed input, loaded once: rows L2-normalised onto the unit sphere (as every command reads
/// embeddings, see `EmbeddingsDataset.readUnitRows`) and grouped by class.
public struct BalanceInput: Sendable {
    public var spec: InputSpec
    /// Every input row, unit-norm, in input order.
    public var embeddings: Matrix
    public var labels: [Int32]
    public var classCount: Int
    public var classNames: [String]?
    /// Input row numbers of each class, ascending.
    public var classMembers: [[Int]]

    public var dimension: Int { embeddings.columns }
    public var classSizes: [Int] { classMembers.map(\.count) }

    /// Reads and checks the input, normalising rows in blocks; `progress(rowsDone, rowsTotal)` is called per block.
    public static func load(_ spec: InputSpec, progress: (Int, Int) -> Void = { _, _ in }) throws(BalanceError) -> BalanceInput {
        let file: LabeledEmbeddingsFile
        let labels: [Int32]
        do {
            file = try LabeledEmbeddingsFile(path: spec.path, embeddings: spec.embeddingsDataset, labels: spec.labelsDataset,
                                             classNames: spec.classNamesDataset)
            labels = try file.readLabels()
        } catch { throw .storage(error) }
        let n = file.count, d = file.dimension
        guard n > 0 else { throw .emptyInput(file: spec.path) }

        if let given = spec.classCount, !(1...InputSpec.maximumClassCount).contains(given) {
            throw .invalidClassCount(file: spec.path, count: given, reason: "the class count must be from 1 to \(InputSpec.maximumClassCount)")
        }
        let classCount = file.classNames?.count ?? spec.classCount ?? (Int(labels.max() ?? -1) + 1)
        guard classCount <= InputSpec.maximumClassCount else {
            throw .invalidClassCount(file: spec.path, count: classCount,
                                     reason: "the largest label implies more than \(InputSpec.maximumClassCount) classes; renumber the classes densely from 0")
        }
        var members = [[Int]](repeating: [], count: classCount)
        for (row, label) in labels.enumerated() {
            guard label >= 0, Int(label) < classCount else {
                throw .labelOutOfRange(file: spec.path, dataset: spec.labelsDataset, row: row, label: Int(label), classCount: classCount)
            }
            members[Int(label)].append(row)
        }

        let block = max(1, (32 << 20) / max(1, d * 4))  // ~32 MiB per read
        var failure: StorageError?
        let storage = [Float](unsafeUninitializedCapacity: n * d) { buffer, initialised in
            var start = 0
            while start < n {
                let end = min(n, start + block)
                do throws(StorageError) {
                    try file.readUnitRows(rows: start..<end, into: UnsafeMutableBufferPointer(rebasing: buffer[start * d ..< end * d]))
                } catch {
                    failure = error
                    return
                }
                start = end
                progress(start, n)
            }
            initialised = n * d
        }
        if let failure { throw .storage(failure) }
        return BalanceInput(spec: spec, embeddings: Matrix(rows: n, columns: d, storage: storage), labels: labels,
                            classCount: classCount, classNames: file.classNames, classMembers: members)
    }

    /// The unit-norm rows of one class, in input order.
    public func rows(ofClass classId: Int) -> Matrix {
        embeddings.gatherRows(classMembers[classId])
    }
}

extension BalanceInput {
    /// An input already in memory (rows unit-norm), e.g. generated data; groups rows by class.
    public init(normalizedEmbeddings: Matrix, labels: [Int32], classCount: Int, classNames: [String]? = nil,
                spec: InputSpec = InputSpec(path: "<memory>")) {
        precondition(labels.count == normalizedEmbeddings.rows && labels.allSatisfy { $0 >= 0 && Int($0) < classCount })
        var members = [[Int]](repeating: [], count: classCount)
        for (row, label) in labels.enumerated() { members[Int(label)].append(row) }
        self.init(spec: spec, embeddings: normalizedEmbeddings, labels: labels, classCount: classCount,
                  classNames: classNames, classMembers: members)
    }
}
