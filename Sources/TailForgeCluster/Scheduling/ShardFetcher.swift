/// Copies of finished shard files in flight from workers to the coordinator, as pure bookkeeping: which chunk
/// comes next, when a copy is complete, and which copies die with a worker or a job. The loop writes the bytes
/// and, off its thread, fsyncs and renames the finished copy.
struct ShardFetcher {
    typealias Identity = [UInt8]

    struct Fetch: Equatable {
        var requestId: Int
        var reference: ShardReference
        var worker: Identity
        var remotePath: String
        var localPath: String
        var expectedSHA256: String
        var total: Int64
        var received: Int64 = 0

        var partialPath: String { localPath + ".partial" }
    }

    /// What to do with an arriving chunk.
    enum Step: Equatable {
        /// Not a chunk of a live fetch (late, duplicate, from another peer): drop it.
        case ignore
        /// Write the bytes to the fetch's partial file, then send `next` (nil: the copy is complete).
        case write(Fetch, next: DataRequest?)
        /// The worker could not serve the file: the shard is recomputed.
        case failed(Fetch, reason: String)
    }

    private(set) var fetches: [Int: Fetch] = [:]
    private var nextRequestId = 1
    let chunkBytes: Int

    init(chunkBytes: Int) {
        self.chunkBytes = max(1, chunkBytes)
    }

    /// Starts a copy; returns it and its first request.
    mutating func start(_ reference: ShardReference, from worker: Identity, remotePath: String, localPath: String,
                        sha256: String, total: Int64) -> (Fetch, DataRequest) {
        let fetch = Fetch(requestId: nextRequestId, reference: reference, worker: worker, remotePath: remotePath,
                          localPath: localPath, expectedSHA256: sha256, total: total)
        nextRequestId += 1
        fetches[fetch.requestId] = fetch
        return (fetch, request(fetch))
    }

    private func request(_ fetch: Fetch) -> DataRequest {
        let length = Int(min(Int64(chunkBytes), fetch.total - fetch.received))
        return DataRequest(requestId: fetch.requestId,
                           resource: .shardFile(job: fetch.reference.job, shard: fetch.reference.shard, path: fetch.remotePath),
                           offset: fetch.received, length: length)
    }

    mutating func received(_ chunk: DataChunk, bytes: Int, from worker: Identity) -> Step {
        guard var fetch = fetches[chunk.requestId], fetch.worker == worker, chunk.offset == fetch.received else { return .ignore }
        if let error = chunk.error ?? (bytes == 0 && fetch.received < fetch.total ? "empty chunk at offset \(fetch.received)" : nil)
            ?? (fetch.received + Int64(bytes) > fetch.total ? "the file is longer than the \(fetch.total) bytes reported" : nil) {
            fetches[chunk.requestId] = nil
            return .failed(fetch, reason: error)
        }
        fetch.received += Int64(bytes)
        if fetch.received < fetch.total {
            fetches[chunk.requestId] = fetch
            return .write(fetch, next: request(fetch))
        }
        fetches[chunk.requestId] = nil
        return .write(fetch, next: nil)
    }

    /// Drops the fetches matching `predicate` (their worker died, their job ended); returns them.
    mutating func cancel(where predicate: (Fetch) -> Bool) -> [Fetch] {
        let dropped = fetches.values.filter(predicate)
        for fetch in dropped { fetches[fetch.requestId] = nil }
        return dropped
    }
}
