import Foundation
import Logging

/// Serving the input to workers and fetching shard files from them.
extension CoordinatorLoop {
    /// Streams a job's input, only to a registered worker that holds a current attempt of a shard of that job
    /// and only while the input still resolves inside a data root. Every refusal reads the same, so a peer
    /// learns nothing about which jobs or files exist.
    mutating func serve(_ identity: Identity, _ request: DataRequest) {
        func refuse(_ reason: String) {
            log.warning("refused a data request from \(name(identity)) for \(request.resource): \(reason)")
            runtime.metrics?.refused("data-request")
            send(identity, WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset, totalBytes: 0,
                                                 error: "the coordinator serves a job's input only to the worker running a shard of it")))
        }
        // A worker this coordinator forgot (declared lost under load, or before a restart) registers again and
        // repeats the request; the answer names no job or file.
        guard registry[identity] != nil else {
            log.warning("refused a data request from unregistered peer \(printable(identity))")
            send(identity, WireMessage(ErrorReply(code: "not-registered", message: "say hello before dataRequest")))
            return
        }
        guard case .input(let id) = request.resource, let job = jobs[id], job.state == .running else {
            return refuse("not the input of a running job")
        }
        guard let reference = registry[identity]?.activity.reference, reference.job == id,
              job.board?.isCurrent(reference, worker: identity) == true else {
            return refuse("the worker holds no current shard of \(id)")
        }
        guard let path = configuration.dataRoots.confine(job.manifest.input.path) else {
            return refuse("\(job.manifest.input.path) no longer resolves inside a data root")
        }
        let length = min(max(0, request.length), configuration.chunkBytes)
        let (bytes, total, error) = FileChunks.read(path: path, offset: request.offset, length: length)
        if let error { log.warning("serving the input of \(id) to \(name(identity)) failed: \(error)") }
        runtime.metrics?.moved(error == nil ? bytes.count : 0, direction: "sent", what: "input")
        send(identity, WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                             totalBytes: total, error: error.map { _ in "the coordinator cannot read the job's input; see its log" }),
                                   payloads: error == nil ? [bytes] : []))
    }

    mutating func startFetch(_ reference: ShardReference, from worker: Identity, remotePath: String, sha256: String, total: Int64) {
        guard let job = jobs[reference.job] else { return }
        let localPath = (job.directory as NSString).appendingPathComponent("shard-\(reference.shard)-attempt-\(reference.attempt).h5")
        let (fetch, request) = fetcher.start(reference, from: worker, remotePath: remotePath, localPath: localPath, sha256: sha256, total: total)
        _ = FileManager.default.createFile(atPath: fetch.partialPath, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: fetch.partialPath) else {
            _ = fetcher.cancel { $0.requestId == fetch.requestId }
            fail(reference.job, "cannot write \(fetch.partialPath)")
            return
        }
        fetchFiles[fetch.requestId] = handle
        send(worker, WireMessage(request))
    }

    mutating func fetched(_ identity: Identity, _ chunk: DataChunk, payloads: [[UInt8]]) {
        let bytes = payloads.first ?? []
        switch fetcher.received(chunk, bytes: bytes.count, from: identity) {
        case .ignore:
            return
        case .failed(let fetch, let reason):
            dropFetchFile(fetch)
            registry.reported(identity, fetch.reference)
            attemptFailed(identity, fetch.reference, .fetchFailed(reason))
        case .write(let fetch, let next):
            runtime.metrics?.moved(bytes.count, direction: "received", what: "shard")
            do { try fetchFiles[fetch.requestId]?.write(contentsOf: bytes) } catch {
                dropFetchFile(fetch)
                _ = fetcher.cancel { $0.requestId == fetch.requestId }
                fail(fetch.reference.job, "cannot write \(fetch.partialPath): \(error)")
                return
            }
            if let next {
                send(identity, WireMessage(next))
                return
            }
            // Complete: fsync and rename off this thread (a multi-GB fsync must not stall heartbeats).
            guard let handle = fetchFiles.removeValue(forKey: fetch.requestId) else { return }
            jobs[fetch.reference.job]?.board?.storing(fetch.reference, worker: identity)
            runtime.background {
                do {
                    try handle.synchronize()
                    try handle.close()
                    try? FileManager.default.removeItem(atPath: fetch.localPath)
                    try FileManager.default.moveItem(atPath: fetch.partialPath, toPath: fetch.localPath)
                    return .stored(fetch, .success(()))
                } catch {
                    try? handle.close()
                    return .stored(fetch, .failure(.init(message: "\(error)")))
                }
            }
        }
    }

    mutating func storedFetch(_ fetch: ShardFetcher.Fetch) {
        guard let job = jobs[fetch.reference.job], job.state == .running, job.board?.isStoring(fetch.reference) == true else {
            // The job ended (or the attempt was superseded) while the file was being stored.
            try? FileManager.default.removeItem(atPath: fetch.localPath)
            return
        }
        startCheck(fetch.reference, from: fetch.worker, file: ShardFile(path: fetch.localPath, sha256: fetch.expectedSHA256))
    }

    mutating func dropFetchFile(_ fetch: ShardFetcher.Fetch) {
        try? fetchFiles.removeValue(forKey: fetch.requestId)?.close()
        try? FileManager.default.removeItem(atPath: fetch.partialPath)
    }
}
