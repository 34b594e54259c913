import ArgumentParser
import Foundation
import Logging
import TailForgeCluster
import TailForgeObservability

/// `tailforge worker`: the daemon that computes shards for a coordinator.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a cluster worker daemon that computes shards for a coordinator until SIGTERM or SIGINT.")

    @Option(help: "The coordinator's endpoint (tcp://HOST:5555).")
    var connect: String

    @Option(name: .customLong("work-dir"), help: "Directory for streamed inputs and shard files; the worker writes nowhere else.")
    var workDir: String

    @Option(name: .customLong("data-root"), help: "A directory of a shared filesystem the worker may also write shared shard directories in and read training shards from (repeatable).")
    var dataRoots: [String] = []

    @Option(help: "Compute threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Name shown by `tailforge status` and in logs (default: HOST and a digest of the work directory, the same after a restart).")
    var name: String?

    @Option(name: .customLong("cache-max-bytes"), help: "Streamed inputs kept in the work directory beyond this many bytes are deleted, least recently used first.")
    var cacheMaxBytes: Int64 = WorkerConfiguration.defaultCacheMaxBytes

    @OptionGroup var keys: PeerKeyOptions

    @Option(name: .customLong("max-message-bytes"), help: "Largest message accepted from the coordinator (frames: at most 64 MiB each).")
    var maxMessageBytes = WireLimits.defaultMaxMessageBytes

    @Option(name: .customLong("metrics-bind"), help: "Serve Prometheus metrics at http://HOST:PORT/metrics (a bare PORT means 127.0.0.1; port 0 picks one, written to WORK-DIR/metrics-endpoint); off by default.")
    var metricsBind: String?

    @OptionGroup var logging: DaemonLogOptions

    func validate() throws {
        try CommandLimits.checkEndpoint("connect", connect, setBy: "under systemd: TAILFORGE_COORDINATOR in /etc/default/tailforge-worker")
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
        try CommandLimits.check("max-message-bytes", maxMessageBytes, in: WireLimits.minimumMaxMessageBytes...(4 << 30))
        guard cacheMaxBytes >= 0 else { throw ValidationError("--cache-max-bytes must be 0 or more") }
        _ = try CommandLimits.bindAddress(metricsBind, flag: "--metrics-bind")
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let logger = logging.logger(label: "tailforge.worker")
        let security = try keys.security()
        if !security.isSecure {
            // A daemon must not fall back to plain text because a key variable went missing: it says so.
            guard keys.insecure else {
                throw CommandFailure("a worker needs --key FILE --coordinator-key FILE.pub (or TAILFORGE_KEY and TAILFORGE_COORDINATOR_KEY), or --insecure for a plain-text coordinator")
            }
            logger.warning("INSECURE: plain text, no authentication of the coordinator; anyone on the path can read shards or pose as the coordinator")
        }
        let (daemon, listeners) = DaemonService.worker(connect: connect, workDirectory: workDir, threads: threads, name: name,
                                            cacheMaxBytes: cacheMaxBytes, security: security, dataRoots: dataRoots, maxMessageBytes: maxMessageBytes,
                                            metricsBind: try CommandLimits.bindAddress(metricsBind, flag: "--metrics-bind"), logger: logger)
        try await DaemonService.runUntilSignalled([daemon] + ObservabilityServer.services(listeners, logger: logger), logger: logger)
    }
}
