import ArgumentParser
import Logging
import TailForgeCluster
import TailForgeObservability

/// `tailforge coordinator`: the daemon that plans, schedules and gathers jobs.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the cluster coordinator daemon until SIGTERM or SIGINT.")

    @Option(help: "ZeroMQ endpoint to bind (tcp://*:5555 for every interface; port 0 or * picks a free port, written to STATE/endpoint).")
    var bind: String = "tcp://127.0.0.1:5555"

    @Option(help: "The coordinator's secret key file from `tailforge keygen` (CURVE on every connection).")
    var key: String?

    @Option(name: .customLong("signing-key"),
            help: "Ed25519 key that signs every resolved manifest (default: NAME.sign.key beside --key, when it exists).")
    var signingKey: String?

    @Option(name: .customLong("allow-dir"), help: "Allowed public keys by role: DIR/workers/*.pub and DIR/clients/*.pub (re-read on SIGHUP).")
    var allowDir: String?

    @Flag(help: "Plain text without authentication: anyone who can reach --bind may submit, cancel, read jobs or pose as a worker.")
    var insecure = false

    @Option(name: .customLong("state-dir"), help: "Directory for the job journal, κ results and fetched shards.")
    var stateDir: String

    @Option(name: .customLong("data-root"), help: "A directory jobs may read inputs from and write outputs and shard directories in (repeatable; required, there is no default).")
    var dataRoots: [String] = []

    @Option(name: .customLong("heartbeat-ms"), help: "Interval between heartbeats in milliseconds.")
    var heartbeatMilliseconds = 500

    @Option(name: .customLong("liveness-ms"), help: "A worker silent for this many milliseconds is dead and its shards go to others.")
    var livenessMilliseconds = 5_000

    @Option(name: .customLong("max-attempts"), help: "Attempts per shard stage before its job fails, when the manifest does not say.")
    var maxAttempts = 3

    @Option(name: .customLong("quarantine-after"), help: "A worker whose shards fail this many times in a row gets no more until it registers again.")
    var quarantineAfter = 3

    @Option(name: .customLong("retain-jobs"), help: "How long finished jobs stay in status and the journal before they are purged (90s, 30m, 12h, 7d).")
    var retainJobs = "7d"

    @Option(name: .customLong("worker-memory-bytes"), help: "Memory a worker may use for a shard; jobs whose largest class needs more fail at planning.")
    var workerMemoryBytes: Int64 = CoordinatorConfiguration.defaultWorkerMemoryBytes

    @Option(name: .customLong("max-message-bytes"), help: "Largest message accepted from a peer (frames: at most 64 MiB each); bigger ones are refused and logged.")
    var maxMessageBytes = WireLimits.defaultMaxMessageBytes

    @Option(name: .customLong("max-workers"), help: "Workers beyond this many are refused at registration.")
    var maxWorkers = CoordinatorConfiguration.defaultMaxWorkers

    @Option(name: .customLong("max-jobs-per-client"), help: "Running jobs one client key (with --insecure: one address) may have; its further jobs wait in its queue.")
    var maxJobsPerClient = CoordinatorConfiguration.defaultMaxJobsPerClient

    @Option(name: .customLong("max-queued-jobs-per-client"), help: "Jobs one client may have waiting for one of its running jobs to end; more are refused.")
    var maxQueuedJobsPerClient = CoordinatorConfiguration.defaultMaxQueuedJobsPerClient

    @Option(name: .customLong("verify-fraction"), help: "Fraction (0 to 1) of the shards of each `verify: spot` job recomputed on another worker and compared; 0 refuses such jobs.")
    var verifyFraction = CoordinatorConfiguration.defaultVerifyFraction

    @Option(name: .customLong("trainer-wait-seconds"), help: "A job whose `train.trainer` names a worker fails when that worker has not registered this many seconds after the job reaches training.")
    var trainerWaitSeconds = CoordinatorConfiguration.defaultTrainerWaitSeconds

    @Option(name: .customLong("metrics-bind"), help: "Serve Prometheus metrics at http://HOST:PORT/metrics (a bare PORT means 127.0.0.1; port 0 picks one, written to STATE/metrics-endpoint); off by default.")
    var metricsBind: String?

    @Option(name: .customLong("http-bind"), help: "Serve the status page, /api/status and /metrics at HOST:PORT (a bare PORT means 127.0.0.1; port 0 picks one, written to STATE/http-endpoint); off by default.")
    var httpBind: String?

    @Option(name: .customLong("http-token-file"), help: "File (mode 600) holding the token every status-page request must carry; required when --http-bind is not a loopback address.")
    var httpTokenFile: String?

    @OptionGroup var logging: DaemonLogOptions

    func validate() throws {
        try CommandLimits.check("max-message-bytes", maxMessageBytes, in: WireLimits.minimumMaxMessageBytes...(4 << 30))
        try CommandLimits.check("max-workers", maxWorkers, in: 1...1_000_000)
        try CommandLimits.check("max-jobs-per-client", maxJobsPerClient, in: 1...100_000)
        try CommandLimits.check("max-queued-jobs-per-client", maxQueuedJobsPerClient, in: 0...100_000)
        guard verifyFraction.isFinite, (0...1).contains(verifyFraction) else {
            throw ValidationError("--verify-fraction takes a number from 0 to 1 (0.1 recomputes a tenth of a `verify: spot` job's shards), not \(verifyFraction)")
        }
        guard trainerWaitSeconds.isFinite, (0.1...604_800).contains(trainerWaitSeconds) else {
            throw ValidationError("--trainer-wait-seconds takes a number of seconds from 0.1 to 604800 (a week), not \(trainerWaitSeconds)")
        }
        guard workerMemoryBytes > 0 else { throw ValidationError("--worker-memory-bytes must be positive") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
        guard quarantineAfter >= 1 else { throw ValidationError("--quarantine-after must be at least 1") }
        guard RetentionPeriod.seconds(retainJobs) != nil else {
            throw ValidationError("--retain-jobs takes a number with a unit s, m, h or d (for example 7d or 12h), not '\(retainJobs)'")
        }
        // An hour and a day: far beyond any sensible setting, and twice either still fits in Int.
        try CommandLimits.check("heartbeat-ms", heartbeatMilliseconds, in: HeartbeatSettings.intervalRange)
        try CommandLimits.check("liveness-ms", livenessMilliseconds, in: HeartbeatSettings.livenessRange)
        guard livenessMilliseconds >= 2 * heartbeatMilliseconds else {
            throw ValidationError("--liveness-ms must be at least twice --heartbeat-ms")
        }
        let page = try CommandLimits.bindAddress(httpBind, flag: "--http-bind")
        _ = try CommandLimits.bindAddress(metricsBind, flag: "--metrics-bind")
        if let page, !page.isLoopback, httpTokenFile == nil {
            throw ValidationError("--http-bind \(page) serves the status page beyond this machine: give --http-token-file FILE (a secret every request must carry; see cluster/README.md, Status page) or bind to 127.0.0.1")
        }
        if httpTokenFile != nil, page == nil {
            throw ValidationError("--http-token-file protects the status page: give --http-bind too")
        }
        // Last: a bad value above is named even when the keys or roots are missing too.
        if insecure {
            guard key == nil, allowDir == nil else { throw ValidationError("--insecure cannot be combined with --key or --allow-dir") }
        } else {
            guard key != nil, allowDir != nil else {
                throw ValidationError("the coordinator needs --key FILE and --allow-dir DIR (see `tailforge keygen` and cluster/README.md, Security), or --insecure for plain text on a trusted network")
            }
        }
        guard !dataRoots.isEmpty else {
            throw ValidationError("the coordinator needs at least one --data-root DIR: every job's input, output and shard directory must resolve inside one (see cluster/README.md, Security)")
        }
    }

    func run() async throws {
        let logger = logging.logger(label: "tailforge.coordinator")
        let security: SocketSecurity = try key.map { .curveServer(try CurveKeyPair.load(secretKeyFile: $0)) } ?? .plaintext
        if let allowDir { _ = try AllowList.load(directory: allowDir) }  // a typo fails here, before binding
        let roots = try DataRoots(dataRoots)
        let signing = try SigningKeyPair.forCoordinator(signingKeyFile: signingKey, curveKeyFile: key)
        if signing == nil {
            logger.warning("no signing key (--signing-key, or NAME.sign.key beside --key): resolved manifests are sealed but not signed, so `replay --coordinator-signing-key` cannot vouch for them")
        }
        let token = try httpTokenFile.map { try HTTPToken.load(file: $0) }
        let (daemon, listeners) = DaemonService.coordinator(
            bind: bind, stateDirectory: stateDir,
            heartbeat: HeartbeatSettings(intervalMilliseconds: heartbeatMilliseconds, livenessMilliseconds: livenessMilliseconds),
            maxAttempts: maxAttempts, quarantineAfter: quarantineAfter, retainJobsSeconds: RetentionPeriod.seconds(retainJobs)!,
            workerMemoryBytes: workerMemoryBytes, security: security, allowDirectory: allowDir, dataRoots: roots, maxMessageBytes: maxMessageBytes, maxWorkers: maxWorkers,
            signingKey: signing, maxJobsPerClient: maxJobsPerClient, maxQueuedJobsPerClient: maxQueuedJobsPerClient, verifyFraction: verifyFraction,
            metricsBind: try CommandLimits.bindAddress(metricsBind, flag: "--metrics-bind"),
            httpBind: try CommandLimits.bindAddress(httpBind, flag: "--http-bind"), httpToken: token,
            trainerWaitSeconds: trainerWaitSeconds, logger: logger)
        try await DaemonService.runUntilSignalled([daemon] + ObservabilityServer.services(listeners, logger: logger), logger: logger)
    }
}
