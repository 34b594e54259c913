import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A coordinator and workers on loopback, each a child process of the `tailforge` executable, with their logs
/// in `directory`. Used by `tailforge demo`, the cluster tests and the cluster benchmark; `stop()` (or deinit)
/// terminates every child it started.
public final class LocalCluster {
    /// Why the cluster could not start.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    public let executable: String
    public let directory: String
    /// Extra environment for every child (tests set the shard delay or another tool version).
    public var environment: [String: String]
    public var heartbeatMilliseconds: Int
    public var livenessMilliseconds: Int
    /// Extra `tailforge coordinator` options (`--max-attempts`, `--quarantine-after`, `--retain-jobs`).
    public var coordinatorArguments: [String] = []
    /// Extra `tailforge worker` options (`--cache-max-bytes`).
    public var workerArguments: [String] = []
    public private(set) var coordinator: Process?
    public private(set) var workers: [Process] = []
    /// The coordinator's endpoint once started (tcp://127.0.0.1:PORT).
    public private(set) var endpoint: String = ""

    public var stateDirectory: String { (directory as NSString).appendingPathComponent("coordinator") }

    public init(executable: String, directory: String, environment: [String: String] = [:],
                heartbeatMilliseconds: Int = 200, livenessMilliseconds: Int = 1_500) {
        self.executable = executable
        self.directory = directory
        self.environment = environment
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.livenessMilliseconds = livenessMilliseconds
    }

    deinit { stop() }

    /// The `tailforge` executable of this process (the demo) or beside it (a test bundle in `.build/debug`).
    public static func siblingExecutable(named name: String = "tailforge") -> String? {
        let candidates = [Bundle.main.executablePath, CommandLine.arguments.first].compactMap { $0 }
        for path in candidates {
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath()
            if resolved.lastPathComponent == name { return resolved.path }
            var directory = resolved.deletingLastPathComponent()
            // A test bundle may be a directory (macOS) or a file (Linux); walk up a few levels.
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent(name).path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
        }
        return nil
    }

    /// Starts the coordinator on `bind` (default: a free loopback port) and waits for its endpoint file.
    public func startCoordinator(bind: String = "tcp://127.0.0.1:*") throws {
        let endpointFile = CoordinatorRuntime.endpointFile(stateDirectory: stateDirectory)
        try? FileManager.default.removeItem(atPath: endpointFile)
        coordinator = try spawn("coordinator", ["coordinator", "--bind", bind, "--state-dir", stateDirectory,
                                                "--heartbeat-ms", "\(heartbeatMilliseconds)", "--liveness-ms", "\(livenessMilliseconds)"]
                                                + coordinatorArguments)
        let coordinator = self.coordinator
        if let found = CoordinatorRuntime.waitForEndpoint(stateDirectory: stateDirectory, seconds: 20, gaveUp: { coordinator?.isRunning == false }) {
            endpoint = found
            return
        }
        throw StartError(description: "the coordinator did not start; see \(logPath("coordinator"))")
    }

    /// Starts one more worker connected to the coordinator; returns its index.
    @discardableResult
    public func startWorker(threads: Int = 1, environment extra: [String: String] = [:]) throws -> Int {
        let index = workers.count
        let work = (directory as NSString).appendingPathComponent("worker\(index)")
        workers.append(try spawn("worker\(index)", ["worker", "--connect", endpoint, "--work-dir", work, "--threads", "\(threads)",
                                                    "--name", "local\(index)"] + workerArguments, extra: extra))
        return index
    }

    /// Starts the coordinator and `count` workers, and waits until every worker has registered (so the first
    /// job or training session is spread over all of them).
    public func start(workers count: Int, threadsPerWorker: Int = 1) throws {
        try startCoordinator()
        for _ in 0..<count { try startWorker(threads: threadsPerWorker) }
        try waitForWorkers(count)
    }

    /// Waits until the coordinator lists at least `count` registered workers.
    public func waitForWorkers(_ count: Int, seconds: Double = 30) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let reply = try? ClusterClient(coordinator: endpoint, timeoutSeconds: 2).status(), reply.workers.count >= count { return }
            if workers.contains(where: { !$0.isRunning }) { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw StartError(description: "\(count) worker(s) did not register with \(endpoint); see the logs in \(directory)")
    }

    /// The work directory of worker `index`.
    public func workDirectory(_ index: Int) -> String { (directory as NSString).appendingPathComponent("worker\(index)") }

    /// The log file of a child (`coordinator`, `worker0`, …).
    public func logPath(_ name: String) -> String { (directory as NSString).appendingPathComponent("\(name).log") }

    func spawn(_ name: String, _ arguments: [String], extra: [String: String] = [:]) throws -> Process {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = logPath(name)
        // Append: a restarted coordinator keeps its earlier log.
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: log) else { throw StartError(description: "cannot write \(log)") }
        _ = try? handle.seekToEnd()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.merging(extra) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        do { try process.run() } catch {
            throw StartError(description: "cannot run \(executable): \(error)")
        }
        return process
    }

    /// Sends `signal` to a child (SIGKILL simulates a crash, SIGTERM a graceful stop).
    public static func signal(_ process: Process?, _ signal: Int32) {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Kills the coordinator with SIGKILL and waits for it to be gone.
    public func crashCoordinator() {
        Self.signal(coordinator, SIGKILL)
        coordinator?.waitUntilExit()
    }

    /// Kills worker `index` with SIGKILL and waits for it to be gone.
    public func crashWorker(_ index: Int) {
        Self.signal(workers[index], SIGKILL)
        workers[index].waitUntilExit()
    }

    /// SIGTERM to every child, then SIGKILL to any still running after `grace` seconds.
    public func stop(grace: Double = 5) {
        let all = workers + [coordinator].compactMap { $0 }
        for process in all { Self.signal(process, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while all.contains(where: \.isRunning), Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        for process in all where process.isRunning {
            Self.signal(process, SIGKILL)
            process.waitUntilExit()
        }
    }
}
