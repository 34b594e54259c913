import Foundation
import TailForgeTestSupport
import TailForgeCluster

/// Waits that suspend instead of blocking, so tests that wait on processes and files do not hold a thread of
/// Swift's cooperative pool (one per core) that every other test needs.

/// Polls `condition` every `interval` until it holds or `seconds` pass; true when it held.
func eventually(seconds: Double, interval: Duration = .milliseconds(10), _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try condition()
}

/// Polls `value` until it is non-nil or `seconds` pass.
func eventually<T>(seconds: Double, interval: Duration = .milliseconds(10), _ value: () throws -> T?) async rethrows -> T? {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if let found = try value() { return found }
        try? await Task.sleep(for: interval)
    }
    return try value()
}

/// A child process whose stdout and stderr go to files (read once it has exited, or polled while it runs), so
/// nothing blocks on a pipe.
final class Child: Sendable {
    let process: Process
    let stdoutPath: String
    let stderrPath: String

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        let id = UUID().uuidString
        stdoutPath = NSTemporaryDirectory() + "tailforge-child-\(id).out"
        stderrPath = NSTemporaryDirectory() + "tailforge-child-\(id).err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Started inside `withTemporaryDirectory`, it is ended before that directory goes, whatever the test did.
        TemporaryDirectory.current?.beforeRemoval { [process] in
            if process.isRunning { LocalCluster.signal(process, SIGKILL) }
            await LocalCluster.exited(process)
        }
    }

    /// A child a test killed or left to its cluster's teardown never reaches `finish()`: its output files go with it.
    deinit {
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// What the child has written to stdout so far, once it is non-empty (nil if nothing came within `seconds`).
    func firstOutput(seconds: Double = 30) async -> String? {
        await eventually(seconds: seconds) { stdout.isEmpty ? nil : stdout }
    }

    /// Waits until the child has written something to stderr (or `seconds` pass).
    func firstError(seconds: Double = 30) async {
        _ = await eventually(seconds: seconds) { !stderr.isEmpty }
    }

    /// Waits for the child to exit; its status and everything it wrote.
    func finish() async -> (status: Int32, stdout: String, stderr: String) {
        await LocalCluster.exited(process)
        defer {
            try? FileManager.default.removeItem(atPath: stdoutPath)
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
        return (process.terminationStatus, stdout, stderr)
    }

    /// Runs `executable arguments…` to the end.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws
        -> (status: Int32, stdout: String, stderr: String) {
        await (try Child(executable, arguments, environment: environment)).finish()
    }
}
