import Foundation
import Logging
import ServiceLifecycle
import TailForgeNumerics
import UnixSignals

/// A coordinator or worker loop as a `Service`: the loop keeps its own thread (it owns a ZeroMQ socket for its
/// whole life) and a graceful shutdown sets its stop signal, so SIGTERM/SIGINT let it hand back work and
/// persist state before the process exits.
public struct DaemonService: Service {
    public let name: String
    private let body: @Sendable (StopSignal) throws -> Void

    public init(name: String, _ body: @escaping @Sendable (StopSignal) throws -> Void) {
        self.name = name
        self.body = body
    }

    public func run() async throws {
        let stop = StopSignal()
        let body = self.body
        let name = self.name
        try await withGracefulShutdownHandler {
            // Cancelled when another service of the group failed (an HTTP listener that cannot bind): stop too.
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    ComputePool.startThread(named: name) {
                        do { try body(stop); continuation.resume() } catch { continuation.resume(throwing: error) }
                    }
                }
            } onCancel: {
                stop.stop()
            }
        } onGracefulShutdown: {
            stop.stop()
        }
    }

    /// The logger the daemons use: lines on stderr, text (for people) or JSON (for collectors).
    public static func logger(label: String, format: LogFormat = .text, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label, factory: { format.handler(label: $0) })
        logger.logLevel = level
        return logger
    }

    /// Runs `services` in a `ServiceGroup` until they finish, stopping them gracefully on SIGTERM or SIGINT.
    public static func runUntilSignalled(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The coordinator daemon with the balancing engine behind it.
    public static func coordinator(bind: String, stateDirectory: String, heartbeat: HeartbeatSettings = HeartbeatSettings(),
                                   maxAttempts: Int = 3, quarantineAfter: Int = 3,
                                   retainJobsSeconds: Double = CoordinatorConfiguration.defaultRetainJobsSeconds,
                                   workerMemoryBytes: Int64 = CoordinatorConfiguration.defaultWorkerMemoryBytes,
                                   security: SocketSecurity = .plaintext, allowDirectory: String? = nil,
                                   dataRoots: DataRoots = .none, maxMessageBytes: Int = WireLimits.defaultMaxMessageBytes,
                                   maxWorkers: Int = CoordinatorConfiguration.defaultMaxWorkers, signingKey: SigningKeyPair? = nil,
                                   maxJobsPerClient: Int = CoordinatorConfiguration.defaultMaxJobsPerClient,
                                   maxQueuedJobsPerClient: Int = CoordinatorConfiguration.defaultMaxQueuedJobsPerClient,
                                   verifyFraction: Double = CoordinatorConfiguration.defaultVerifyFraction,
                                   metricsBind: HTTPBindAddress? = nil, httpBind: HTTPBindAddress? = nil, httpToken: HTTPToken? = nil,
                                   trainerWaitSeconds: Double = CoordinatorConfiguration.defaultTrainerWaitSeconds,
                                   logger: Logger) -> (daemon: DaemonService, listeners: [HTTPListener]) {

        var configuration = CoordinatorConfiguration(bind: bind, stateDirectory: stateDirectory, toolVersion: ToolVersionOverride.current,
                                                     heartbeat: heartbeat, maxAttempts: maxAttempts, quarantineAfter: quarantineAfter,
                                                     retainJobsSeconds: retainJobsSeconds, workerMemoryBytes: workerMemoryBytes)
        configuration.security = security
        configuration.allowDirectory = allowDirectory
        configuration.dataRoots = dataRoots
        configuration.limits = WireLimits(maxMessageBytes: maxMessageBytes)
        configuration.sockets = SocketSettings(maxMessageBytes: maxMessageBytes)
        configuration.maxWorkers = maxWorkers
        configuration.signingKey = signingKey
        configuration.maxJobsPerClient = maxJobsPerClient
        configuration.maxQueuedJobsPerClient = maxQueuedJobsPerClient
        configuration.verifyFraction = verifyFraction
        configuration.metricsBind = metricsBind
        configuration.httpBind = httpBind
        configuration.httpToken = httpToken
        configuration.trainerWaitSeconds = trainerWaitSeconds
        let runtime = CoordinatorRuntime(configuration: configuration, backend: EngineJobBackend(), logger: logger)
        // SIGHUP re-reads the allow-list (the operator removed or added a key); libzmq consults it per handshake.
        Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { runtime.reloadAllowList() }
        }
        return (DaemonService(name: "tailforge-coordinator") { try runtime.run(until: $0) }, runtime.httpListeners())
    }

    /// The worker daemon with the balancing engine behind it.
    public static func worker(connect: String, workDirectory: String, threads: Int, name: String? = nil,
                              cacheMaxBytes: Int64 = WorkerConfiguration.defaultCacheMaxBytes, security: SocketSecurity = .plaintext,
                              dataRoots: [String] = [], maxMessageBytes: Int = WireLimits.defaultMaxMessageBytes,
                              metricsBind: HTTPBindAddress? = nil, logger: Logger) -> (daemon: DaemonService, listeners: [HTTPListener]) {
        // Absolute from the start: the confinement checks compare resolved paths, and `--work-dir w1` once refused
        // every shard ("the shared shard directory w1 is outside worker w1's work directory").
        let workDirectory = URL(fileURLWithPath: workDirectory).standardizedFileURL.path
        let dataRoots = dataRoots.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let name = name ?? WorkerConfiguration.defaultName(host: ProcessInfo.processInfo.hostName, workDirectory: workDirectory)
        var configuration = WorkerConfiguration(coordinator: connect, workDirectory: workDirectory, threads: threads, name: name,
                                                toolVersion: ToolVersionOverride.current, cacheMaxBytes: cacheMaxBytes)
        configuration.security = security
        configuration.dataRoots = dataRoots
        configuration.limits = WireLimits(maxMessageBytes: maxMessageBytes)
        configuration.sockets = SocketSettings(maxMessageBytes: maxMessageBytes)
        configuration.metricsBind = metricsBind
        // Every line of this worker names it, so the lines of many workers can be merged and filtered.
        var logger = logger
        logger[metadataKey: "worker"] = "\(name)"
        let runtime = WorkerRuntime(configuration: configuration, executor: EngineShardExecutor(), logger: logger)
        var listeners: [HTTPListener] = []
        if let metricsBind, let registry = runtime.metricsRegistry {
            listeners.append(HTTPListener(address: metricsBind, flag: "--metrics-bind", metrics: registry, snapshots: nil, token: nil,
                                          directory: workDirectory))
        }
        return (DaemonService(name: "tailforge-worker") { try runtime.run(until: $0) }, listeners)
    }
}
