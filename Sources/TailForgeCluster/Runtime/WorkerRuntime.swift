import CoreMetrics
import Foundation
import Logging
import Synchronization
import TailForgeNumerics

/// Configuration of a worker daemon.
public struct WorkerConfiguration: Sendable {
    public var coordinator: String
    public var workDirectory: String
    public var threads: Int
    public var name: String
    public var toolVersion: String
    public var sockets: SocketSettings
    public var limits: WireLimits
    /// Bytes per `dataRequest` when streaming the input from the coordinator.
    public var chunkBytes: Int
    /// Streamed inputs kept in the work directory beyond this many bytes are deleted, least recently used
    /// first (the input in use is never deleted).
    public var cacheMaxBytes: Int64

    public static let defaultCacheMaxBytes: Int64 = 8 << 30
    /// CURVE client keys (its own pair and the coordinator's public key), or `.plaintext` (`--insecure`).
    public var security: SocketSecurity = .plaintext
    /// Directories besides the work directory the worker may write shared shard directories in and read
    /// training shards from (`--data-root`, a shared filesystem); it writes nowhere else.
    public var dataRoots: [String] = []

    /// The work directory and the data roots: everywhere a coordinator may make this worker write or read.
    public var confinedRoots: [String] { [workDirectory] + dataRoots }
    /// Where `/metrics` is served (`--metrics-bind`); nil: no metrics are kept at all.
    public var metricsBind: HTTPBindAddress?

    public init(coordinator: String, workDirectory: String, threads: Int, name: String, toolVersion: String,
                sockets: SocketSettings = SocketSettings(), limits: WireLimits = WireLimits(), chunkBytes: Int = 4 << 20,
                cacheMaxBytes: Int64 = defaultCacheMaxBytes) {
        self.coordinator = coordinator; self.workDirectory = workDirectory; self.threads = threads
        self.name = name; self.toolVersion = toolVersion; self.sockets = sockets; self.limits = limits
        self.chunkBytes = chunkBytes; self.cacheMaxBytes = cacheMaxBytes
    }

    /// The name a worker registers with when none is given: the host and a digest of the absolute work
    /// directory, so a restarted worker keeps its name (and two workers on one host with their own directories
    /// do not share one).
    public static func defaultName(host: String, workDirectory: String) -> String {
        let absolute = URL(fileURLWithPath: workDirectory).standardizedFileURL.path
        return "\(host)-\(FileDigest.sha256(of: Array(absolute.utf8)).prefix(6))"
    }
}

/// Why a worker stopped other than by request.
public enum WorkerError: Error, CustomStringConvertible {
    case refused(reason: String)
    case transport(ZMQError)

    public var description: String {
        switch self {
        case .refused(let reason): "the coordinator refused this worker: \(reason)"
        case .transport(let error): "\(error)"
        }
    }
}

/// A worker daemon's network side: one thread owns the DEALER socket, registers, heartbeats, serves data
/// requests and relays shard work to a separate compute thread, so compute never delays a heartbeat. Compute
/// hands its messages back through a ``SocketMailbox``, which wakes the network thread the moment one is ready.
public final class WorkerRuntime: Sendable {
    public let configuration: WorkerConfiguration
    private let executor: any ShardExecutor
    private let logger: Logger
    /// Messages the compute threads want sent, while `run` is running.
    private let mailbox = Mutex<SocketMailbox<WorkerEvent>?>(nil)
    /// Training shards and gradient requests (distributed training), computed off the network thread.
    let training: TrainingShardServer
    /// Nil unless served (`--metrics-bind`).
    let metrics: WorkerMetrics?
    /// The trainers of jobs whose `train.trainer` names this worker, by job (``WorkerRuntime/drive(_:payloads:)``).
    let jobTrainers = Mutex<[String: LocalTrainerLink]>([:])

    enum WorkerEvent: Sendable {
        case send(WireMessage)
        /// An attempt ended; `report` is its result or failure. One event, so the network thread lets go of the
        /// attempt before it sends the report: the coordinator may assign the next shard the moment it reads
        /// the report, and that assignment must not find the attempt still held (a spurious "busy").
        case finished(ShardReference, report: WireMessage)
        /// A streamed input was fsynced and verified (or not) off the network thread.
        case inputVerified(InputDownload, error: String?)
    }

    public init(configuration: WorkerConfiguration, executor: any ShardExecutor, logger: Logger) {
        self.configuration = configuration
        self.executor = executor
        self.logger = logger
        self.training = TrainingShardServer(threads: configuration.threads, workerName: configuration.name, logger: logger,
                                            readableRoots: configuration.confinedRoots,
                                            inputs: (executor as? EngineShardExecutor)?.inputs ?? JobInputCache(),
                                            workDirectory: configuration.workDirectory)
        self.metrics = configuration.metricsBind == nil ? nil : WorkerMetrics()
    }

    /// Runs until `stop` is set (then hands back any running shard with `goodbye`) or the coordinator refuses
    /// the worker. Blocks the calling thread, which becomes the network thread.
    public func run(until stop: StopSignal) throws(WorkerError) {
        let context: ZMQContext
        do { context = try ZMQContext() } catch { throw .transport(error) }
        let factory = SocketFactory(context: context, settings: configuration.sockets, security: configuration.security)
        let (outbox, wake): (SocketMailbox<WorkerEvent>, ZMQSocket)
        do { (outbox, wake) = try SocketMailbox<WorkerEvent>.make(factory: factory) } catch { throw .transport(error) }
        mailbox.withLock { $0 = outbox }
        defer {
            mailbox.withLock { $0 = nil }
            outbox.close()
            wake.close()
        }
        var loop = WorkerLoop(runtime: self, factory: factory, outbox: outbox, wake: wake)
        try loop.run(until: stop)
    }

    /// Hands an event to the network thread (dropped once `run` has returned).
    func post(_ event: WorkerEvent) {
        mailbox.withLock { $0 }?.post(event)
    }

    /// The metrics registry the worker's `--metrics-bind` listener serves.
    var metricsRegistry: MetricsRegistry? { metrics?.registry }

    var log: Logger { logger }
    fileprivate var shardExecutor: any ShardExecutor { executor }
}

/// State owned by the network thread.
private struct WorkerLoop {
    let runtime: WorkerRuntime
    let factory: SocketFactory
    let outbox: SocketMailbox<WorkerRuntime.WorkerEvent>
    let wake: ZMQSocket
    var configuration: WorkerConfiguration { runtime.configuration }
    var socket: ZMQSocket?
    var heartbeat = HeartbeatSettings()
    var registered = false
    var lastHeard = ContinuousClock.now
    var lastSent = ContinuousClock.now
    var lastHello = ContinuousClock.now
    /// The attempt this worker holds, from assignment (including streaming and verifying its input) until it
    /// reports (it is let go of before the report is sent); heartbeats carry it, and any other assignment
    /// meanwhile is answered "busy".
    var current: (reference: ShardReference, cancelled: StopSignal)?
    var download: InputDownload?
    var lastDownloadProgress = ContinuousClock.now
    var nextRequestId = 1

    init(runtime: WorkerRuntime, factory: SocketFactory, outbox: SocketMailbox<WorkerRuntime.WorkerEvent>, wake: ZMQSocket) {
        self.runtime = runtime
        self.factory = factory
        self.outbox = outbox
        self.wake = wake
    }

    mutating func connect() throws(WorkerError) {
        socket?.close()
        let identity = Array("\(configuration.name)-\(UInt32.random(in: 0...UInt32.max))".utf8)
        do {
            socket = try factory.makeDealer(connecting: configuration.coordinator, identity: identity)
        } catch { throw .transport(error) }
        registered = false
        // A fresh connection restarts the liveness clock; saying hello again later does not.
        lastHeard = .now
        sendHello()
        // The reply to a chunk request sent on the old socket is lost with it: ask again, or the download stalls.
        if download != nil { requestNextChunk() }
    }

    mutating func sendHello() {
        let hello = Hello(workerName: configuration.name, toolVersion: configuration.toolVersion,
                          host: ProcessInfo.processInfo.hostName, processId: ProcessInfo.processInfo.processIdentifier,
                          threads: configuration.threads, busyWith: current?.reference, blasCore: BLAS.coreName)
        send(WireMessage(hello))
        lastHello = .now
    }

    /// Never blocks: with no connection to queue on (a handshake the coordinator refuses) a blocking send would
    /// hang the network thread, and with it SIGTERM. A message that cannot be queued is dropped; hello and
    /// heartbeats repeat, and the coordinator's shard timeout covers anything else.
    mutating func send(_ message: WireMessage) {
        guard let socket else { return }
        do {
            try socket.send(message.encode(), dontWait: true)
            lastSent = .now
        } catch {
            if error == .wouldBlock {
                runtime.log.debug("\(message.type) not sent: no connection to the coordinator yet")
            } else {
                runtime.log.warning("send \(message.type) failed: \(error)")
            }
        }
    }

    mutating func run(until stop: StopSignal) throws(WorkerError) {
        WorkDirectory.removeLeftovers(configuration.workDirectory, log: runtime.log)
        try connect()
        runtime.log.info("worker \(configuration.name) connecting to \(configuration.coordinator)")
        while !stop.isStopped {
            // The timeout only paces heartbeats and liveness checks; messages wake the poll at once.
            let readable: [Bool]
            do { readable = try ZMQSocket.poll([socket!, wake], timeoutMilliseconds: 20) } catch { throw .transport(error) }
            if readable[0] {
                // Drain everything queued so a burst of data chunks does not starve heartbeats.
                while let frames = (try? socket!.receive(dontWait: true)) ?? nil {
                    try handle(frames)
                }
            }
            for event in outbox.drain(wake) {
                switch event {
                case .send(let message):
                    if let metrics = runtime.metrics, let reply = message.body(as: GradientReply.self) {
                        metrics.gradientCompute.recordNanoseconds(Int64((reply.seconds ?? 0) * 1e9))
                        metrics.moved(message.payloads.reduce(0) { $0 + $1.count }, direction: "sent", what: "gradient")
                    }
                    send(message)
                case .finished(let reference, let report):
                    if current?.reference == reference { current = nil }
                    send(report)
                case .inputVerified(let download, let error):
                    inputVerified(download, error: error)
                }
            }
            let now = ContinuousClock.now
            if let metrics = runtime.metrics {
                metrics.coordinatorSilence.record((now - lastHeard).seconds)
                metrics.registered.record(registered ? 1 : 0)
                metrics.busy.record(current == nil ? 0 : 1)
            }
            if registered, now - lastSent >= .milliseconds(heartbeat.intervalMilliseconds) {
                send(WireMessage(Heartbeat(busyWith: current?.reference)))
            }
            if now - lastHeard > .milliseconds(heartbeat.livenessMilliseconds) {
                // The coordinator is gone or restarted: start over. A running shard keeps running and its
                // result is reported to whichever coordinator answers.
                runtime.log.warning("no word from the coordinator for \(heartbeat.livenessMilliseconds) ms; reconnecting")
                runtime.stopTrainers("the coordinator was silent for \(heartbeat.livenessMilliseconds) ms")
                try connect()
            } else if !registered, now - lastHello > .milliseconds(1_000) {
                sendHello()
            }
        }
        if let current {
            current.cancelled.stop()
            send(WireMessage(Goodbye(returning: [current.reference])))
        } else {
            send(WireMessage(Goodbye(returning: [])))
        }
        runtime.log.info("worker \(configuration.name) shut down gracefully")
        socket?.close()
    }

    mutating func reply(_ error: ProtocolError) {
        runtime.log.warning("rejected a message from the coordinator: \(error)")
        send(WireMessage(ErrorReply(code: error.code, message: error.description)))
    }

    mutating func handle(_ frames: [[UInt8]]) throws(WorkerError) {
        lastHeard = .now
        let message: WireMessage
        do { message = try WireMessage.decode(frames, limits: configuration.limits) } catch {
            reply(error)
            return
        }
        if TrainingShardServer.handles(message) {
            if message.type == .gradientRequest { runtime.metrics?.gradientRequests.increment() }
            let runtime = self.runtime
            runtime.training.submit(message) { runtime.post(.send($0)) }
            return
        }
        switch message.body {
        case let order as TrainJob:
            runtime.drive(order, payloads: message.payloads)
        case is GradientReply, is TrainingShardLoaded, is HeldOutTallyReply, is TrainingFailure:
            // Relayed to a trainer this worker runs (a worker never receives them otherwise).
            if !runtime.deliverToTrainer(message) { reply(.unexpectedMessage(type: "\(message.type)", context: "by a worker that drives no training of its session")) }
        case let welcome as Welcome:
            registered = true
            if let settings = HeartbeatSettings.checked(intervalMilliseconds: welcome.heartbeatIntervalMilliseconds,
                                                        livenessMilliseconds: welcome.livenessMilliseconds) {
                heartbeat = settings
            } else {
                // A hostile or broken coordinator must not be able to overflow the worker's clocks.
                runtime.log.error("the coordinator's welcome asks for a heartbeat every \(welcome.heartbeatIntervalMilliseconds) ms and a liveness window of \(welcome.livenessMilliseconds) ms, outside \(HeartbeatSettings.intervalRange) and \(HeartbeatSettings.livenessRange); keeping \(heartbeat.intervalMilliseconds) ms and \(heartbeat.livenessMilliseconds) ms")
            }
            runtime.log.info("registered as \(welcome.workerId)")
        case let refuse as Refuse:
            throw .refused(reason: refuse.reason)
        case is Heartbeat:
            break
        case let assign as AssignShard:
            accept(assign, payloads: message.payloads)
        case let cancel as CancelShard:
            cancelJob(cancel)
        case let discard as DiscardShardFile:
            if let path = WorkDirectory.contained(discard.path, in: configuration.workDirectory) {
                try? FileManager.default.removeItem(atPath: path)
            }
        case let request as DataRequest:
            serve(request)
        case let chunk as DataChunk:
            receive(chunk, payloads: message.payloads)
        case let error as ErrorReply where error.code == "forbidden" && !registered:
            // Its key is allow-listed, but as a client: saying hello forever would never work.
            throw .refused(reason: "the coordinator's allow-list has this worker's key as a client, not a worker (\(error.message)); "
                + "move its .pub from the allow-list's clients/ to workers/ and reload the coordinator (SIGHUP), or start the worker with a worker key")
        case let error as ErrorReply where error.code == "not-registered":
            // The coordinator restarted or declared us lost: register again (naming the attempt we hold), then
            // repeat the chunk request it refused, or the download stalls.
            registered = false
            runtime.stopTrainers("the coordinator no longer knows this connection (it declared the worker lost, or restarted)")
            sendHello()
            if download != nil { requestNextChunk() }
        case let error as ErrorReply:
            runtime.log.warning("coordinator reported an error: \(error.code): \(error.message)")
        default:
            reply(.unexpectedMessage(type: "\(message.type)", context: "by a worker"))
        }
    }

    mutating func fail(_ reference: ShardReference, _ reason: ShardFailureReason) {
        runtime.metrics?.failed(reason)
        runtime.log.error("\(reference) failed: \(reason)", metadata: LogMetadata.shard(reference))
        send(WireMessage(ShardFailure(shard: reference, reason: reason)))
    }

    mutating func cancelJob(_ cancel: CancelShard) {
        runtime.stopTrainer(of: cancel.job)
        if let current, current.reference.job == cancel.job {
            current.cancelled.stop()
            if download?.assignment.shard.job == cancel.job {
                // Nothing computes yet: the attempt ends here.
                download?.abandon()
                download = nil
                self.current = nil
            }
        }
        if cancel.purge == true {
            let removed = Housekeeping.removeShardFiles(ofJob: cancel.job, in: configuration.workDirectory)
            if !removed.isEmpty { runtime.log.info("job \(cancel.job) ended: removed \(removed.count) file(s)", metadata: LogMetadata.job(cancel.job)) }
        }
    }

    mutating func accept(_ assign: AssignShard, payloads: [[UInt8]]) {
        if let current {
            send(WireMessage(ShardFailure(shard: assign.shard, reason: .busy(with: current.reference))))
            return
        }
        var kappas: [Float] = []
        if assign.shard.stage == .synthesis {
            guard payloads.count == 1, let values = WireMessage.float32Values(payloads[0]) else {
                fail(assign.shard, .invalidResult("synthesis assignment without a float32 κ payload"))
                return
            }
            kappas = values
        }
        current = (assign.shard, StopSignal())
        if assign.input.streamed {
            let local = InputDownload.localPath(workDirectory: configuration.workDirectory, sha256: assign.input.sha256)
            if FileManager.default.fileExists(atPath: local) {
                WorkDirectory.touch(local)
                start(assign, kappas: kappas, inputPath: local)
            } else {
                startDownload(assign, kappas: kappas, localPath: local)
            }
        } else {
            start(assign, kappas: kappas, inputPath: assign.input.path)
        }
    }

    mutating func start(_ assign: AssignShard, kappas: [Float], inputPath: String) {
        let flag = current?.cancelled ?? StopSignal()
        current = (assign.shard, flag)
        let directory = assign.sharedShardDirectory ?? configuration.workDirectory
        // Workers write only inside their work directory and data roots, whatever a coordinator asks.
        guard let roots = try? DataRoots(configuration.confinedRoots), roots.confine(directory) != nil else {
            self.current = nil
            fail(assign.shard, .executionFailed("the shared shard directory \(directory) is outside worker \(configuration.name)'s work directory and data roots (\(configuration.confinedRoots.joined(separator: ", "))); start the worker with --data-root for it"))
            return
        }
        let task = ShardTask(assignment: assign, kappas: kappas, inputPath: inputPath, outputDirectory: directory)
        let runtime = self.runtime
        let threads = configuration.threads
        ComputePool.startThread(named: "tailforge-compute") {
            let reference = assign.shard
            let context = ShardContext(threads: threads, isCancelled: { flag.isStopped }, progress: { classes, rows in
                runtime.post(.send(WireMessage(ShardProgress(shard: reference, classesDone: classes, rowsDone: rows))))
            })
            let started = ContinuousClock.now
            let report: WireMessage
            do {
                let outcome = try runtime.shardExecutor.execute(task, context: context)
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                let result = ShardResult(shard: reference, rowsPerClass: outcome.rowsPerClass, sha256: outcome.sha256,
                                         byteCount: outcome.byteCount, path: outcome.path, seconds: seconds,
                                         contentSHA256: outcome.contentSHA256, syntheticProbeSHA256: outcome.syntheticProbeSHA256)
                if !flag.isStopped, let metrics = runtime.metrics {
                    metrics.completed(reference.stage)
                    if reference.stage == .synthesis { metrics.rowsGenerated.increment(by: outcome.rowsPerClass.reduce(0, +)) }
                }
                if flag.isStopped {
                    // Cancelled after the last check: nobody wants the file.
                    if let path = outcome.path { try? FileManager.default.removeItem(atPath: path) }
                    report = WireMessage(ShardFailure(shard: reference, reason: .cancelled))
                } else {
                    report = WireMessage(result, payloads: outcome.payload.map { [$0] } ?? [])
                }
            } catch {
                let reason: ShardFailureReason = flag.isStopped ? .cancelled : .executionFailed("\(error)")
                runtime.metrics?.failed(reason)
                if !flag.isStopped { runtime.log.error("shard \(reference) failed: \(error)", metadata: LogMetadata.shard(reference)) }
                report = WireMessage(ShardFailure(shard: reference, reason: reason))
            }
            runtime.post(.finished(reference, report: report))
        }
        runtime.log.info("started \(assign.shard) (\(assign.classes.count) classes)", metadata: LogMetadata.shard(assign.shard))
    }

    // MARK: Streaming the input from the coordinator

    mutating func startDownload(_ assign: AssignShard, kappas: [Float], localPath: String) {
        do {
            download = try InputDownload(assignment: assign, kappas: kappas, localPath: localPath)
        } catch {
            current = nil
            fail(assign.shard, .inputUnavailable("cannot create \(localPath): \(error)"))
            return
        }
        // Room for the new input before it arrives: older inputs go first.
        WorkDirectory.evictInputs(configuration.workDirectory, keeping: [], budget: configuration.cacheMaxBytes - assign.input.byteCount,
                                  log: runtime.log)
        lastDownloadProgress = .now
        requestNextChunk()
    }

    mutating func requestNextChunk() {
        guard let download else { return }
        let length = Int(min(Int64(configuration.chunkBytes), download.total - download.received))
        let request = DataRequest(requestId: nextRequestId, resource: .input(job: download.assignment.shard.job),
                                  offset: download.received, length: length)
        nextRequestId += 1
        send(WireMessage(request))
    }

    mutating func receive(_ chunk: DataChunk, payloads: [[UInt8]]) {
        guard var active = download, chunk.resource == .input(job: active.assignment.shard.job),
              chunk.offset == active.received else { return }
        let reference = active.assignment.shard
        if let error = chunk.error {
            active.abandon()
            download = nil
            current = nil
            fail(reference, .inputUnavailable("streaming the input failed: \(error)"))
            return
        }
        do {
            try active.append(payloads.first ?? [])
            runtime.metrics?.moved(payloads.first?.count ?? 0, direction: "received", what: "input")
        } catch {
            active.abandon()
            download = nil
            current = nil
            fail(reference, .inputUnavailable("writing the streamed input failed: \(error)"))
            return
        }
        if ContinuousClock.now - lastDownloadProgress >= .seconds(1) {
            // Streaming is progress too: the coordinator's shard timeout must not fire during a large input.
            lastDownloadProgress = .now
            send(WireMessage(ShardProgress(shard: reference, classesDone: 0, rowsDone: 0)))
        }
        if active.received < active.total {
            download = active
            requestNextChunk()
            return
        }
        download = nil
        // fsync and SHA-256 of a multi-GB file take seconds: off this thread, which must keep heartbeating.
        let runtime = self.runtime
        let finished = active
        ComputePool.startThread(named: "tailforge-verify-input") {
            do {
                try finished.finish()
                runtime.post(.inputVerified(finished, error: nil))
            } catch {
                runtime.post(.inputVerified(finished, error: "\(error)"))
            }
        }
    }

    mutating func inputVerified(_ download: InputDownload, error: String?) {
        let reference = download.assignment.shard
        guard let current, current.reference == reference else {
            // Cancelled while verifying.
            if error == nil { WorkDirectory.evictInputs(configuration.workDirectory, keeping: [], budget: configuration.cacheMaxBytes, log: runtime.log) }
            return
        }
        if let error {
            self.current = nil
            fail(reference, .inputUnavailable(error))
            return
        }
        if current.cancelled.isStopped {
            self.current = nil
            send(WireMessage(ShardFailure(shard: reference, reason: .cancelled)))
            return
        }
        WorkDirectory.evictInputs(configuration.workDirectory, keeping: [download.localPath], budget: configuration.cacheMaxBytes,
                                  log: runtime.log)
        start(download.assignment, kappas: download.kappas, inputPath: download.localPath)
    }

    // MARK: Serving shard files to the coordinator

    mutating func serve(_ request: DataRequest) {
        guard case .shardFile(_, _, let path) = request.resource else {
            send(WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                       totalBytes: 0, error: "a worker serves only shard files")))
            return
        }
        // Only files this worker wrote into its own work directory are served.
        guard let standardized = WorkDirectory.contained(path, in: configuration.workDirectory) else {
            send(WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                       totalBytes: 0, error: "\(path) is not in the worker's work directory")))
            return
        }
        // At most one chunk per request, whatever the request says.
        let (bytes, total, error) = FileChunks.read(path: standardized, offset: request.offset, length: min(max(0, request.length), configuration.chunkBytes))
        send(WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                   totalBytes: total, error: error), payloads: error == nil ? [bytes] : []))
        if error == nil { runtime.metrics?.moved(bytes.count, direction: "sent", what: "shard") }
        if error == nil, request.offset + Int64(bytes.count) == total {
            // The coordinator now has the whole shard (it checks the digest); a lost copy is recomputed, not refetched.
            try? FileManager.default.removeItem(atPath: standardized)
        }
    }
}
