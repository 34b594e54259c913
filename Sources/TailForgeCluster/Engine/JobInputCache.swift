import Foundation
import Synchronization
import TailForgeEngine
import TailForgeStorage

/// A worker's copy of the job input in memory, normalised, checked against the job's SHA-256 when loaded, and
/// the drift guard of a guarded job on it: shared by the shard executor (every shard of a job reads the same
/// file) and the training server (which regenerates a training job's rows from it), so the input is read and
/// held once and the guard — a copy of every class's kept rows — built and held once per job. The coordinator
/// keeps one too, for a compact job's shard checks and its gather (``EngineJobBackend``).
public final class JobInputCache: Sendable {
    private let cached = Mutex<(key: String, input: BalanceInput)?>(nil)
    private let cachedGuard = Mutex<(key: String, driftGuard: DriftGuard)?>(nil)
    /// Held while an input loads, so callers that miss at once (a coordinator checking several compact shards in
    /// parallel) wait for one load instead of each reading, hashing and normalising the file.
    private let loading = Mutex<Void>(())

    public init() {}

    /// The input at `path`, which must have SHA-256 `sha256`; `input` gives the dataset names.
    public func input(path: String, sha256: String, input: JobManifest.Input) throws -> BalanceInput {
        let key = path + "#" + sha256
        if let hit = cached.withLock({ $0 }), hit.key == key { return hit.input }
        return try loading.withLock { _ in try load(path: path, sha256: sha256, input: input, key: key) }
    }

    private func load(path: String, sha256: String, input: JobManifest.Input, key: String) throws -> BalanceInput {
        // Loaded by the caller this one waited for.
        if let hit = cached.withLock({ $0 }), hit.key == key { return hit.input }
        // Free the previous job's input (and the guard built from it) before loading the next.
        cached.withLock { $0 = nil }
        cachedGuard.withLock { $0 = nil }
        let actual: String
        do throws(StorageError) { actual = try SHA256.hexDigest(ofFileAt: path) } catch { throw ClusterJobError.storage(error) }
        guard actual == sha256 else { throw ClusterJobError.inputChanged(path: path, expected: sha256, actual: actual) }
        let data: BalanceInput
        do throws(BalanceError) { data = try BalanceInput.load(input.spec(path: path)) } catch { throw ClusterJobError.balance(error) }
        cached.withLock { $0 = (key, data) }
        return data
    }

    /// Frees the input and guard held: a coordinator holds a compact job's input only while it checks and gathers.
    public func forget() {
        cached.withLock { $0 = nil }
        cachedGuard.withLock { $0 = nil }
    }

    /// The drift guard of `job` on the input with SHA-256 `sha256`: the one built earlier for that job, or what
    /// `build` returns (nil: the job has none).
    func driftGuard(job: String, sha256: String, build: () throws -> DriftGuard?) rethrows -> DriftGuard? {
        let key = job + "#" + sha256
        if let hit = cachedGuard.withLock({ $0 }), hit.key == key { return hit.driftGuard }
        cachedGuard.withLock { $0 = nil }  // free the previous job's guard before building the next
        guard let built = try build() else { return nil }
        cachedGuard.withLock { $0 = (key, built) }
        return built
    }
}
