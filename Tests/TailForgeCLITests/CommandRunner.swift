import Foundation
import Testing
import TailForgeCluster
import TailForgeEngine
import TailForgeStorage
import TailForgeTestSupport

/// The `tailforge` executable built beside this test bundle, run as a real process.
struct CommandRunner {
    let executable: String

    init() throws {
        executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
    }

    /// How a run ended: its exit status (or the signal that killed it) and what it printed.
    struct Outcome {
        var status: Int32
        var killedBySignal: Bool
        var stdout: String
        var stderr: String
    }

    /// Starts `tailforge arguments…` with stdout and stderr going to files in `directory`.
    func start(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> (Process, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        // Tests run with whatever OpenBLAS detects; a re-exec would only cost time.
        process.environment = ProcessInfo.processInfo.environment.merging(["TAILFORGE_BLAS_AUTOSELECT": "0"].merging(environment) { $1 }) { $1 }
        let id = UUID().uuidString
        let out = NSTemporaryDirectory() + "tailforge-cli-\(id).out", err = NSTemporaryDirectory() + "tailforge-cli-\(id).err"
        #expect(FileManager.default.createFile(atPath: out, contents: nil))
        #expect(FileManager.default.createFile(atPath: err, contents: nil))
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // A test that throws between start and finish still ends the process and removes its output files before
        // its temporary directory goes.
        TemporaryDirectory.current?.beforeRemoval { [process] in
            if process.isRunning { LocalCluster.signal(process, SIGKILL) }
            await LocalCluster.exited(process)
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        return (process, out, err)
    }

    /// Waits (suspending, not blocking a thread) for the process to exit.
    func finish(_ process: Process, _ out: String, _ err: String) async -> Outcome {
        await LocalCluster.exited(process)
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return Outcome(status: process.terminationStatus, killedBySignal: process.terminationReason == .uncaughtSignal,
                       stdout: read(out), stderr: read(err))
    }

    /// Runs to the end.
    func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> Outcome {
        let (process, out, err) = try start(arguments, in: directory, environment: environment)
        return await finish(process, out, err)
    }
}

/// A scratch directory with a generated `small` data set (data/train.h5, data/test.h5) and a model trained on it.
/// Suites share one through a `static`, so the directory is removed when the test process exits.
final class CLIFixture: @unchecked Sendable {
    let scratch = TemporaryDirectory.removedAtExit("cli")
    var directory: String { scratch.path }
    let runner: CommandRunner

    init() async throws {
        runner = try CommandRunner()
        _ = try SyntheticPreset.small.write(to: path("data"), seed: 3, dimension: 16)
        let train = try await runner.run(["train", "data/train.h5", "-o", "model.h5", "--max-iter", "5", "--threads", "1"], in: directory)
        #expect(train.status == 0, "\(train.stderr)")
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Every name in the directory, hidden files included.
    func contents(_ subdirectory: String = ".") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path(subdirectory))) ?? []).sorted()
    }
}
