import Foundation
import Logging
import Synchronization
import TailForgeNumerics

/// Configuration of the coordinator daemon.
public struct CoordinatorConfiguration: Sendable {
    public var bind: String
    public var stateDirectory: String
    public var toolVersion: String
    public var heartbeat: HeartbeatSettings
    public var sockets: SocketSettings
    public var limits: WireLimits
    /// Attempts per shard stage when the manifest does not say.
    public var maxAttempts: Int
    /// Bytes per `dataRequest` when fetching shard files from workers.
    public var chunkBytes: Int
    /// A worker whose shards fail this many times in a row is quarantined until it registers again.
    public var quarantineAfter: Int
    /// Finished (committed, failed, cancelled) jobs are kept this long, then purged from the journal and disk.
    public var retainJobsSeconds: Double
    /// Memory each worker may use for a shard: plans that need more (the input plus the largest class's block)
    /// fail at planning, before any shard is assigned.
    public var workerMemoryBytes: Int64

    /// CURVE server keys, or `.plaintext` (`--insecure`).
    public var security: SocketSecurity = .plaintext
    /// With CURVE: the allow-list directory (`workers/*.pub`, `clients/*.pub`) the ZAP handler enforces.
    public var allowDirectory: String?
    /// Every input, output and shard directory of a job must resolve inside one of these (`--data-root`);
    /// with none, every job is refused.
    public var dataRoots: DataRoots = .none
    /// Registered workers beyond this many are refused at `hello`.
    public var maxWorkers: Int = CoordinatorConfiguration.defaultMaxWorkers
    public static let defaultMaxWorkers = 1_024
    /// Signs every resolved manifest (`tailforge replay --coordinator-signing-key` checks it); nil writes them sealed only.
    public var signingKey: SigningKeyPair?
    /// Running (planned, computing or gathering) jobs one client key (or, with `--insecure`, one address) may
    /// have; its further jobs wait in its queue.
    public var maxJobsPerClient: Int = CoordinatorConfiguration.defaultMaxJobsPerClient
    public static let defaultMaxJobsPerClient = 16
    /// Jobs one client may have waiting for one of its running jobs to end; more are refused.
    public var maxQueuedJobsPerClient: Int = CoordinatorConfiguration.defaultMaxQueuedJobsPerClient
    public static let defaultMaxQueuedJobsPerClient = 16
    var clientJobLimits: ClientJobLimits { ClientJobLimits(maxRunning: maxJobsPerClient, maxQueued: maxQueuedJobsPerClient) }
    /// The fraction of a `verify: spot` job's shards recomputed on a second worker (`--verify-fraction`); 0 refuses
    /// such jobs rather than accept them unverified.
    public var verifyFraction: Double = CoordinatorConfiguration.defaultVerifyFraction
    public static let defaultVerifyFraction = 0.1

    public static let defaultWorkerMemoryBytes: Int64 = 64 << 30

    /// Where `/metrics` is served (`--metrics-bind`); nil: not served there.
    public var metricsBind: HTTPBindAddress?
    /// Where the status page, `/api/status` and `/metrics` are served (`--http-bind`); nil: no page.
    public var httpBind: HTTPBindAddress?
    /// Every request to the status page must carry it (`--http-token-file`); required off loopback.
    public var httpToken: HTTPToken?
    /// True when something serves metrics or the page: only then does the network thread build snapshots.
    public var isObserved: Bool { metricsBind != nil || httpBind != nil }

    public static let defaultRetainJobsSeconds: Double = 7 * 86_400
    /// How long a job whose `train.trainer` names a worker waits in `training` for that worker to register before it
    /// fails (`--trainer-wait-seconds`).
    public var trainerWaitSeconds: Double = CoordinatorConfiguration.defaultTrainerWaitSeconds
    public static let defaultTrainerWaitSeconds: Double = 600

    public init(bind: String, stateDirectory: String, toolVersion: String, heartbeat: HeartbeatSettings = HeartbeatSettings(),
                sockets: SocketSettings = SocketSettings(), limits: WireLimits = WireLimits(), maxAttempts: Int = 3,
                chunkBytes: Int = 4 << 20, quarantineAfter: Int = 3, retainJobsSeconds: Double = defaultRetainJobsSeconds,
                workerMemoryBytes: Int64 = defaultWorkerMemoryBytes) {
        self.bind = bind; self.stateDirectory = stateDirectory; self.toolVersion = toolVersion; self.heartbeat = heartbeat
        self.sockets = sockets; self.limits = limits; self.maxAttempts = maxAttempts; self.chunkBytes = chunkBytes
        self.quarantineAfter = quarantineAfter; self.retainJobsSeconds = retainJobsSeconds
        self.workerMemoryBytes = workerMemoryBytes
    }
}

/// The coordinator daemon: one thread owns the ROUTER socket and the whole job state; planning, the κ fallback
/// and gathering run on background threads and report back through a ``SocketMailbox``, which wakes the network
/// thread the moment an outcome is ready, so heartbeats never wait on I/O and results never wait on a tick.
public final class CoordinatorRuntime: Sendable {
    public let configuration: CoordinatorConfiguration
    let backend: any JobBackend
    let logger: Logger
    /// Outcomes of background steps, for the network thread, while `run` is running.
    private let inbox = Mutex<SocketMailbox<CoordinatorEvent>?>(nil)
    /// The metrics and the state the HTTP server shows (nil when nothing serves them: no cost at all then).
    let metrics: CoordinatorMetrics?
    let snapshots: SnapshotBox?
    /// Opened once `run` holds the state directory's lock: the HTTP listeners wait for it, so a second coordinator
    /// refused for the directory never writes (and on exit removes) the first one's `http-endpoint`.
    let stateDirectoryHeld = Latch()

    enum CoordinatorEvent: Sendable {
        case prepared(job: String, Result<PreparedJob, JobStepError>)
        case synthesisKappas(job: String, Result<SynthesisKappas, JobStepError>)
        case gathered(job: String, Result<GatherReport, JobStepError>)
        /// A fetched shard file was fsynced and moved into place (or could not be).
        case stored(ShardFetcher.Fetch, Result<Void, JobStepError>)
        /// A stage-2 shard file was checked against its digest and the plan (or refused).
        case checked(ShardReference, worker: [UInt8], ShardFile, Result<Void, JobStepError>)
        /// Messages from a job's own trainer (``LocalTrainerLink``), as if from `identity`.
        case trainerMessages([UInt8], [WireMessage])
        /// A training job's trainer finished an iteration.
        case trainingProgress(job: String, TrainingProgress)
        /// A training job's model is written (or training failed).
        case trained(job: String, Result<JobTrainer.Outcome, JobStepError>)
    }

    struct SynthesisKappas: Sendable {
        var kappas: [[Float]]
        var fallback: Float?
    }

    struct JobStepError: Error, Sendable {
        var message: String
    }

    public init(configuration: CoordinatorConfiguration, backend: any JobBackend, logger: Logger) {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
        metrics = configuration.isObserved ? CoordinatorMetrics() : nil
        snapshots = configuration.isObserved ? SnapshotBox(.empty(version: configuration.toolVersion, endpoint: configuration.bind)) : nil
    }

    /// The file in the state directory holding the bound endpoint (wildcard ports resolved), for scripts and tests.
    public static func endpointFile(stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("endpoint")
    }

    /// Waits up to `seconds` for a coordinator with `stateDirectory` to write its endpoint file (complete lines
    /// only: the file is written atomically, ending in a newline) and returns the endpoint; nil on timeout or
    /// once `gaveUp()` is true (e.g. the coordinator process has exited).
    public static func waitForEndpoint(stateDirectory: String, seconds: Double, gaveUp: () -> Bool = { false }) async -> String? {
        let file = endpointFile(stateDirectory: stateDirectory)
        let written = { () -> String? in
            guard let text = try? String(contentsOfFile: file, encoding: .utf8), text.hasSuffix("\n") else { return nil }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let endpoint = written() { return endpoint }
            if gaveUp() { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // One last look: on a busy machine this task may first run again after the deadline, when the coordinator
        // has long written the file (a starved waiter, not a slow coordinator).
        return written()
    }

    /// Binds, resumes journaled jobs and serves until `stop` is set. Blocks the calling thread.
    public func run(until stop: StopSignal) throws {
        // Before anything is bound or written: a second coordinator must not touch the first one's state. The lock
        // creates the directory.
        let lock = try StateDirectoryLock(directory: configuration.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        stateDirectoryHeld.open()
        let context = try ZMQContext()
        let factory = SocketFactory(context: context, settings: configuration.sockets, security: configuration.security)
        if configuration.security.isSecure {
            guard let allowDirectory = configuration.allowDirectory else {
                throw KeyFileError.io(path: "--allow-dir", reason: "a CURVE coordinator needs an allow-list directory")
            }
            let allowList = try AllowList.load(directory: allowDirectory)
            let handler = ZAPHandler(allowList: allowList, logger: logger)
            zapHandler.withLock { $0 = handler }
            // Bound before the ROUTER so no handshake can happen without the handler.
            try handler.start(context: context, settings: configuration.sockets, stop: stop)
            logger.info("CURVE on; allow-list \(allowDirectory): \(allowList.workerCount) worker key(s), \(allowList.clientCount) client key(s)")
            for warning in allowList.warnings { logger.warning("\(warning)") }
        } else {
            logger.warning("INSECURE: plain text, no authentication; anyone who can reach \(configuration.bind) can submit, cancel and read jobs or pose as a worker")
        }
        logger.info("data roots: \(configuration.dataRoots.list); jobs may read and write only inside them")
        if configuration.dataRoots.resolved.contains("/") {
            logger.warning("--data-root / confines nothing: jobs may read and write any file the coordinator can")
        }
        let router = try factory.makeRouter(binding: configuration.bind)
        let endpoint = try router.lastEndpoint
        // Before the loop: resuming may already start background steps.
        let (mailbox, wake) = try SocketMailbox<CoordinatorEvent>.make(factory: factory)
        inbox.withLock { $0 = mailbox }
        defer {
            inbox.withLock { $0 = nil }
            mailbox.close()
            wake.close()
        }
        var loop = try CoordinatorLoop(runtime: self, router: router, inbox: mailbox, wake: wake)
        try loop.resume()
        // Written once the journal is replayed and the leftovers cleaned: the file means "ready".
        try Data((endpoint + "\n").utf8).write(to: URL(fileURLWithPath: Self.endpointFile(stateDirectory: configuration.stateDirectory)), options: .atomic)
        logger.info("coordinator listening on \(endpoint), state in \(configuration.stateDirectory)")
        try loop.run(until: stop)
    }

    private let zapHandler = Mutex<ZAPHandler?>(nil)

    /// The HTTP listeners its configuration asks for: `--http-bind` (page, `/api/status`, `/metrics`, behind the
    /// token when one is set) and `--metrics-bind` (`/metrics` only); one listener when both name the same address.
    public func httpListeners() -> [HTTPListener] {
        guard let metrics, let snapshots else { return [] }
        var listeners: [HTTPListener] = []
        let directory = configuration.stateDirectory
        if let page = configuration.httpBind {
            listeners.append(HTTPListener(address: page, flag: "--http-bind", metrics: metrics.registry, snapshots: snapshots,
                                          token: configuration.httpToken, directory: directory, startsAfter: stateDirectoryHeld))
        }
        // Port 0 twice means two listeners, each on a free port.
        if let bind = configuration.metricsBind, bind != configuration.httpBind || bind.port == 0 {
            listeners.append(HTTPListener(address: bind, flag: "--metrics-bind", metrics: metrics.registry, snapshots: nil, token: nil,
                                          directory: directory, startsAfter: stateDirectoryHeld))
        }
        return listeners
    }

    /// Re-reads the allow-list (SIGHUP): keys removed from it are refused at their next handshake.
    public func reloadAllowList() {
        guard let handler = zapHandler.withLock({ $0 }) else { return }
        do {
            let list = try handler.reload()
            logger.info("allow-list reloaded: \(list.workerCount) worker key(s), \(list.clientCount) client key(s)")
            for warning in list.warnings { logger.warning("\(warning)") }
        } catch {
            logger.error("allow-list reload failed, keeping the previous list: \(error)")
        }
    }

    /// Hands an outcome to the network thread and wakes it (dropped once `run` has returned).
    func post(_ event: CoordinatorEvent) { inbox.withLock { $0 }?.post(event) }

    /// Runs `work` on a background thread and posts its outcome.
    func background(_ work: @escaping @Sendable () -> CoordinatorEvent) {
        ComputePool.startThread(named: "tailforge-coordinator-job") { [self] in post(work()) }
    }
}
