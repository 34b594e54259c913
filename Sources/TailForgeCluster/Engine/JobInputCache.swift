import Foundation
import Synchronization
import TailForgeEngine
import TailForgeStorage

/// A worker's copy of the job input in memory, normalised, checked against the job's SHA-256 when loaded:
/// shared by the shard executor (every shard of a job reads the same file) and the training server (which
/// regenerates a training job's rows from it), so the input is read and held once.
public final class JobInputCache: Sendable {
    private let cached = Mutex<(key: String, input: BalanceInput)?>(nil)

    public init() {}

    /// The input at `path`, which must have SHA-256 `sha256`; `input` gives the dataset names.
    public func input(path: String, sha256: String, input: JobManifest.Input) throws -> BalanceInput {
        let key = path + "#" + sha256
        if let hit = cached.withLock({ $0 }), hit.key == key { return hit.input }
        cached.withLock { $0 = nil }  // free the previous job's input before loading the next
        let actual: String
        do throws(StorageError) { actual = try SHA256.hexDigest(ofFileAt: path) } catch { throw ClusterJobError.storage(error) }
        guard actual == sha256 else { throw ClusterJobError.inputChanged(path: path, expected: sha256, actual: actual) }
        let data: BalanceInput
        do throws(BalanceError) { data = try BalanceInput.load(input.spec(path: path)) } catch { throw ClusterJobError.balance(error) }
        cached.withLock { $0 = (key, data) }
        return data
    }
}
