import Foundation
import Logging
import Synchronization

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

    public init(coordinator: String, workDirectory: String, threads: Int, name: String, toolVersion: String,
                sockets: SocketSettings = SocketSettings(), limits: WireLimits = WireLimits(), chunkBytes: Int = 4 << 20) {
        self.coordinator = coordinator; self.workDirectory = workDirectory; self.threads = threads
        self.name = name; self.toolVersion = toolVersion; self.sockets = sockets; self.limits = limits
        self.chunkBytes = chunkBytes
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
/// requests and relays shard work to a separate compute thread, so compute never delays a heartbeat.
public final class WorkerRuntime: Sendable {
    public let configuration: WorkerConfiguration
    private let executor: any ShardExecutor
    private let logger: Logger
    /// Messages the compute thread wants sent; drained by the network thread every loop turn.
    private let outbox = Mutex<[WorkerEvent]>([])
    /// Training shards and gradient requests (distributed training), computed off the network thread.
    let training: TrainingShardServer

    enum WorkerEvent: Sendable {
        case send(WireMessage)
        case finished(ShardReference)
    }

    public init(configuration: WorkerConfiguration, executor: any ShardExecutor, logger: Logger) {
        self.configuration = configuration
        self.executor = executor
        self.logger = logger
        self.training = TrainingShardServer(threads: configuration.threads, workerName: configuration.name, logger: logger)
    }

    /// Runs until `stop` is set (then hands back any running shard with `goodbye`) or the coordinator refuses
    /// the worker. Blocks the calling thread, which becomes the network thread.
    public func run(until stop: StopSignal) throws(WorkerError) {
        let context: ZMQContext
        do { context = try ZMQContext() } catch { throw .transport(error) }
        let factory = SocketFactory(context: context, settings: configuration.sockets)
        var loop = WorkerLoop(runtime: self, factory: factory)
        try loop.run(until: stop)
    }

    func post(_ event: WorkerEvent) {
        outbox.withLock { $0.append(event) }
    }

    fileprivate func drainOutbox() -> [WorkerEvent] {
        outbox.withLock { events in
            defer { events.removeAll() }
            return events
        }
    }

    fileprivate var log: Logger { logger }
    fileprivate var shardExecutor: any ShardExecutor { executor }
}

/// State owned by the network thread.
private struct WorkerLoop {
    let runtime: WorkerRuntime
    let factory: SocketFactory
    var configuration: WorkerConfiguration { runtime.configuration }
    var socket: ZMQSocket?
    var heartbeat = HeartbeatSettings()
    var registered = false
    var lastHeard = ContinuousClock.now
    var lastSent = ContinuousClock.now
    var lastHello = ContinuousClock.now
    var current: (reference: ShardReference, cancelled: StopSignal)?
    var download: InputDownload?
    var nextRequestId = 1

    init(runtime: WorkerRuntime, factory: SocketFactory) {
        self.runtime = runtime
        self.factory = factory
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
    }

    mutating func sendHello() {
        let hello = Hello(workerName: configuration.name, toolVersion: configuration.toolVersion,
                          host: ProcessInfo.processInfo.hostName, processId: ProcessInfo.processInfo.processIdentifier,
                          threads: configuration.threads, busyWith: current?.reference)
        send(WireMessage(hello))
        lastHello = .now
    }

    mutating func send(_ message: WireMessage) {
        guard let socket else { return }
        do {
            try socket.send(message.encode())
            lastSent = .now
        } catch {
            runtime.log.warning("send \(message.type) failed: \(error)")
        }
    }

    mutating func run(until stop: StopSignal) throws(WorkerError) {
        try connect()
        runtime.log.info("worker \(configuration.name) connecting to \(configuration.coordinator)")
        while !stop.isStopped {
            let readable: Bool
            do { readable = try socket!.waitForInput(timeoutMilliseconds: 20) } catch { throw .transport(error) }
            if readable {
                // Drain everything queued so a burst of data chunks does not starve heartbeats.
                while let frames = (try? socket!.receive(dontWait: true)) ?? nil {
                    try handle(frames)
                }
            }
            for event in runtime.drainOutbox() {
                switch event {
                case .send(let message): send(message)
                case .finished(let reference):
                    if current?.reference == reference { current = nil }
                }
            }
            let now = ContinuousClock.now
            if registered, now - lastSent >= .milliseconds(heartbeat.intervalMilliseconds) {
                send(WireMessage(Heartbeat(busyWith: current?.reference)))
            }
            if now - lastHeard > .milliseconds(heartbeat.livenessMilliseconds) {
                // The coordinator is gone or restarted: start over. A running shard keeps running and its
                // result is reported to whichever coordinator answers.
                runtime.log.warning("no word from the coordinator for \(heartbeat.livenessMilliseconds) ms; reconnecting")
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
            let runtime = self.runtime
            runtime.training.submit(message) { runtime.post(.send($0)) }
            return
        }
        switch message.body {
        case let welcome as Welcome:
            registered = true
            heartbeat = HeartbeatSettings(intervalMilliseconds: welcome.heartbeatIntervalMilliseconds,
                                          livenessMilliseconds: welcome.livenessMilliseconds)
            runtime.log.info("registered as \(welcome.workerId)")
        case let refuse as Refuse:
            throw .refused(reason: refuse.reason)
        case is Heartbeat:
            break
        case let assign as AssignShard:
            accept(assign, payloads: message.payloads)
        case let cancel as CancelShard:
            if let current, current.reference.job == cancel.job { current.cancelled.stop() }
            if download?.assignment.shard.job == cancel.job { download = nil }
        case let request as DataRequest:
            serve(request)
        case let chunk as DataChunk:
            receive(chunk, payloads: message.payloads)
        case let error as ErrorReply where error.code == "not-registered":
            // The coordinator restarted and forgot us.
            registered = false
            sendHello()
        case let error as ErrorReply:
            runtime.log.warning("coordinator reported an error: \(error.code): \(error.message)")
        default:
            reply(.unexpectedMessage(type: "\(message.type)", context: "by a worker"))
        }
    }

    mutating func accept(_ assign: AssignShard, payloads: [[UInt8]]) {
        if let current {
            send(WireMessage(ShardFailure(shard: assign.shard, message: "worker \(configuration.name) is busy with \(current.reference)")))
            return
        }
        var kappas: [Float] = []
        if assign.shard.stage == .synthesis {
            guard payloads.count == 1, let values = WireMessage.float32Values(payloads[0]) else {
                send(WireMessage(ShardFailure(shard: assign.shard, message: "synthesis assignment without a float32 κ payload")))
                return
            }
            kappas = values
        }
        if assign.input.streamed {
            let local = InputDownload.localPath(workDirectory: configuration.workDirectory, sha256: assign.input.sha256)
            if !FileManager.default.fileExists(atPath: local) {
                startDownload(assign, kappas: kappas, localPath: local)
                return
            }
            start(assign, kappas: kappas, inputPath: local)
        } else {
            start(assign, kappas: kappas, inputPath: assign.input.path)
        }
    }

    mutating func start(_ assign: AssignShard, kappas: [Float], inputPath: String) {
        let flag = StopSignal()
        current = (assign.shard, flag)
        let directory = assign.sharedShardDirectory ?? configuration.workDirectory
        let task = ShardTask(assignment: assign, kappas: kappas, inputPath: inputPath, outputDirectory: directory)
        let runtime = self.runtime
        let threads = configuration.threads
        let thread = Thread {
            let reference = assign.shard
            let context = ShardContext(threads: threads, isCancelled: { flag.isStopped }, progress: { classes, rows in
                runtime.post(.send(WireMessage(ShardProgress(shard: reference, classesDone: classes, rowsDone: rows))))
            })
            let started = ContinuousClock.now
            do {
                let outcome = try runtime.shardExecutor.execute(task, context: context)
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                let result = ShardResult(shard: reference, rowsPerClass: outcome.rowsPerClass, sha256: outcome.sha256,
                                         byteCount: outcome.byteCount, path: outcome.path, seconds: seconds)
                if !flag.isStopped {
                    runtime.post(.send(WireMessage(result, payloads: outcome.payload.map { [$0] } ?? [])))
                }
            } catch {
                runtime.log.error("shard \(reference) failed: \(error)")
                runtime.post(.send(WireMessage(ShardFailure(shard: reference, message: "\(error)"))))
            }
            runtime.post(.finished(reference))
        }
        thread.name = "tailforge-compute"
        thread.start()
        runtime.log.info("started \(assign.shard) (\(assign.classes.count) classes)")
    }

    // MARK: Streaming the input from the coordinator

    mutating func startDownload(_ assign: AssignShard, kappas: [Float], localPath: String) {
        do {
            download = try InputDownload(assignment: assign, kappas: kappas, localPath: localPath)
        } catch {
            send(WireMessage(ShardFailure(shard: assign.shard, message: "cannot create \(localPath): \(error)")))
            return
        }
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
        guard var current = download, chunk.resource == .input(job: current.assignment.shard.job),
              chunk.offset == current.received else { return }
        if let error = chunk.error {
            send(WireMessage(ShardFailure(shard: current.assignment.shard, message: "streaming the input failed: \(error)")))
            download = nil
            return
        }
        do {
            try current.append(payloads.first ?? [])
        } catch {
            send(WireMessage(ShardFailure(shard: current.assignment.shard, message: "writing the streamed input failed: \(error)")))
            download = nil
            return
        }
        if current.received < current.total {
            download = current
            requestNextChunk()
            return
        }
        download = nil
        do {
            try current.finish()
        } catch {
            send(WireMessage(ShardFailure(shard: current.assignment.shard, message: "\(error)")))
            return
        }
        start(current.assignment, kappas: current.kappas, inputPath: current.localPath)
    }

    // MARK: Serving shard files to the coordinator

    mutating func serve(_ request: DataRequest) {
        guard case .shardFile(_, _, let path) = request.resource else {
            send(WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                       totalBytes: 0, error: "a worker serves only shard files")))
            return
        }
        // Only files this worker wrote into its own work directory are served.
        let directory = URL(fileURLWithPath: configuration.workDirectory).standardizedFileURL.path + "/"
        let standardized = URL(fileURLWithPath: path).standardizedFileURL.path
        let (bytes, total, error) = standardized.hasPrefix(directory)
            ? FileChunks.read(path: standardized, offset: request.offset, length: request.length)
            : ([], 0, "\(path) is not in the worker's work directory")
        send(WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                   totalBytes: total, error: error), payloads: error == nil ? [bytes] : []))
        if error == nil, request.offset + Int64(bytes.count) == total {
            // The coordinator now has the whole shard (it checks the digest); a lost copy is recomputed, not refetched.
            try? FileManager.default.removeItem(atPath: standardized)
        }
    }
}

