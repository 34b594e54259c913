import Foundation
import TailForgeTestSupport
import Testing
import TailForgeCluster

/// `cluster/systemd/*.service` as systemd reads them (`systemd-analyze verify`), and what a worker does when its
/// environment file leaves `${TAILFORGE_COORDINATOR}` empty. No systemd runs as PID 1 in the test sandboxes, so
/// starting the units is not tested; the parts that decide how a start fails are.
@Suite struct SystemdUnitTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let unitDirectory = packageRoot + "/cluster/systemd"
    static let units = ["tailforge-coordinator.service", "tailforge-worker@.service"]
    static let installedBinary = "/usr/local/bin/tailforge"

    static let systemdAnalyze: String? = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `systemd-analyze verify` on copies of `units` in a scratch directory, with the installed binary's path
    /// pointing at the freshly built executable (verify checks that every Exec path is executable).
    static func verify(_ units: [String: String]) async throws -> (status: Int32, output: String) {
        let runner = try CommandRunner()
        return try await withTemporaryDirectory("units") { directory in
            var paths: [String] = []
            for (name, text) in units.sorted(by: { $0.key < $1.key }) {
                let path = directory + "/" + name
                try text.replacingOccurrences(of: installedBinary, with: runner.executable).write(toFile: path, atomically: true, encoding: .utf8)
                paths.append(path)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try #require(systemdAnalyze))
            process.arguments = ["verify"] + paths
            // To a file, not a pipe read to its end: the wait below suspends instead of blocking a thread.
            let log = directory + "/verify.log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            await LocalCluster.exited(process)
            let output = try String(contentsOfFile: log, encoding: .utf8)
            return (process.terminationStatus, output)
        }
    }

    static func unitText(_ name: String) throws -> String {
        try String(contentsOfFile: unitDirectory + "/" + name, encoding: .utf8)
    }

    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze not found: install Debian's systemd package (Scripts/test-setup does)"))
    func unitsPassSystemdAnalyzeVerifyWithoutWarnings() async throws {
        let units = try Dictionary(uniqueKeysWithValues: Self.units.map { ($0, try Self.unitText($0)) })
        let (status, output) = try await Self.verify(units)
        #expect(status == 0, "systemd-analyze verify failed:\n\(output)")
        // verify exits 0 on an unknown key or an unparsable value (it only ignores them), so any line about our
        // units is a failure too.
        let complaints = output.split(separator: "\n").filter { $0.contains("tailforge") }
        #expect(complaints.isEmpty, "systemd-analyze verify complained:\n\(complaints.joined(separator: "\n"))")
    }

    /// The check above can fail: a misspelt directive in a copy of the worker unit is reported.
    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze not found: install Debian's systemd package (Scripts/test-setup does)"))
    func systemdAnalyzeReportsAMisspeltDirective() async throws {
        let broken = try Self.unitText("tailforge-worker@.service").replacingOccurrences(of: "RestartPreventExitStatus=", with: "RestartPreventExitStats=")
        let (_, output) = try await Self.verify(["tailforge-worker@.service": broken])
        #expect(output.contains("RestartPreventExitStats"), "\(output)")
    }

    /// A required environment file that is missing must stop the start with the file named, not start the daemon
    /// with empty settings; so every EnvironmentFile= without `-` has an AssertPathExists= for the same path.
    @Test(arguments: units)
    func requiredEnvironmentFilesAreAsserted(unit: String) throws {
        let lines = try Self.unitText(unit).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let required = lines.compactMap { line -> String? in
            guard line.hasPrefix("EnvironmentFile="), !line.hasPrefix("EnvironmentFile=-") else { return nil }
            return String(line.dropFirst("EnvironmentFile=".count))
        }
        for path in required {
            #expect(lines.contains("AssertPathExists=\(path)"), "\(unit) requires \(path) but does not assert it")
        }
        // A usage error (exit 64) is a configuration mistake that restarting cannot fix.
        #expect(lines.contains("RestartPreventExitStatus=64"), "\(unit) restarts a daemon that refused its flags")
    }

    @Test func workerUnitRequiresItsEnvironmentFile() throws {
        let text = try Self.unitText("tailforge-worker@.service")
        #expect(text.contains("\nEnvironmentFile=/etc/default/tailforge-worker\n"))
        #expect(text.contains("\nAssertPathExists=/etc/default/tailforge-worker\n"))
    }

    /// What systemd runs when TAILFORGE_COORDINATOR is missing from the environment file: `--connect ""`. It used to
    /// start and fail later with a ZeroMQ error, in a restart loop.
    @Test(arguments: [("", "is empty"), ("  ", "is empty"), ("coordinator.example:5555", "must be a ZeroMQ endpoint")])
    func workerRefusesAnEmptyOrMalformedEndpoint(endpoint: String, message: String) async throws {
        let runner = try CommandRunner()
        try await withTemporaryDirectory("endpoint") { directory in
            let outcome = try await runner.run(["worker", "--connect", endpoint, "--work-dir", "work", "--insecure"], in: directory)
            #expect(outcome.status == 64, "\(outcome.stderr)")
            #expect(!outcome.killedBySignal)
            #expect(outcome.stderr.contains("--connect \(message)"), "\(outcome.stderr)")
            #expect(outcome.stderr.contains("TAILFORGE_COORDINATOR in /etc/default/tailforge-worker"), "\(outcome.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/work"), "a refused worker created its work directory")
        }
    }
}
