import Synchronization
import TailForgeEngine
import TailForgeStorage

/// The input rows of each class of one input (from its labels alone), kept for the last input asked about:
/// every shard of a job checks provenance against the same lists, and reading the labels once per job instead of
/// once per shard keeps the check off the input's disk.
final class ClassMembersCache: Sendable {
    private let last = Mutex<(key: String, members: [[Int]])?>(nil)

    /// The ascending input rows of each of `classCount` classes of `spec`, whose SHA-256 the plan recorded.
    func members(_ spec: InputSpec, sha256: String, classCount: Int) throws(ShardResultError) -> [[Int]] {
        let key = spec.path + "#" + sha256
        if let cached = last.withLock({ $0 }), cached.key == key { return cached.members }
        let labels: [Int32]
        do {
            labels = try LabeledEmbeddingsFile(path: spec.path, embeddings: spec.embeddingsDataset, labels: spec.labelsDataset,
                                               classNames: spec.classNamesDataset).readLabels()
        } catch {
            throw .unreadable("the coordinator cannot read the input's labels to check provenance: \(error)")
        }
        var members = [[Int]](repeating: [], count: classCount)
        for (row, label) in labels.enumerated() where label >= 0 && Int(label) < classCount {
            members[Int(label)].append(row)
        }
        last.withLock { $0 = (key, members) }
        return members
    }
}
