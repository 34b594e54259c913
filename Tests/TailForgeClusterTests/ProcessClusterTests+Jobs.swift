import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

/// Submit-time checks and journal validation, against a real coordinator process (no workers needed: every
/// refusal must come before any shard is computed).
extension ProcessClusterTests {
    /// Runs the `tailforge` executable; returns its exit status, stdout and stderr.
    static func tailforge(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    func refusal(_ client: ClusterClient, _ manifest: JobManifest) -> String? {
        do { _ = try client.submit(manifest); return nil } catch {
            guard case .rejected(let code, let message) = error, code == "invalid-manifest" else { return "unexpected: \(error)" }
            return message
        }
    }

    @Test func badOutputsAreRefusedAtSubmitBeforeAnyWork() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try cluster.startCoordinator()
        let client = try ClusterClient(coordinator: cluster.endpoint)
        let scratch = (cluster.directory as NSString).appendingPathComponent("outputs")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        func manifest(_ output: String, overwrite: Bool? = nil) -> JobManifest {
            var manifest = fixture.manifest(output: "unused", shards: 2)
            manifest.output = output
            manifest.overwrite = overwrite
            return manifest
        }

        let missing = (scratch as NSString).appendingPathComponent("nodir/out.h5")
        #expect(refusal(client, manifest(missing))?.contains("directory \(scratch)/nodir does not exist") == true)
        // The input under another spelling is the same inode.
        let dataDirectory = (fixture.input as NSString).deletingLastPathComponent
        let alias = (scratch as NSString).appendingPathComponent("data-link")
        try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: dataDirectory)
        let sameInput = (alias as NSString).appendingPathComponent((fixture.input as NSString).lastPathComponent)
        #expect(refusal(client, manifest(sameInput))?.contains("writing it would destroy the input") == true)
        #expect(refusal(client, manifest(scratch))?.contains("it is a directory") == true)

        let existing = (scratch as NSString).appendingPathComponent("existing.h5")
        FileManager.default.createFile(atPath: existing, contents: Data("keep".utf8))
        #expect(refusal(client, manifest(existing))?.contains("\(existing) exists; set `overwrite: true`") == true)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep")

        // A live job owns its output and its resolved manifest: neither the same output nor another output
        // with the same resolved manifest (out.h5 / out.hdf5 → out.manifest.json) is accepted.
        let first = try client.submit(manifest((scratch as NSString).appendingPathComponent("out.h5")))
        let scratchLink = (cluster.directory as NSString).appendingPathComponent("outputs-link")
        try FileManager.default.createSymbolicLink(atPath: scratchLink, withDestinationPath: scratch)
        #expect(refusal(client, manifest((scratchLink as NSString).appendingPathComponent("out.h5"), overwrite: true))?
            .contains("job \(first) is already writing") == true)
        #expect(refusal(client, manifest((scratch as NSString).appendingPathComponent("out.hdf5")))?
            .contains("job \(first) writes") == true)
        // With overwrite, an existing output (not a live job's) is accepted.
        let replacing = try client.submit(manifest(existing, overwrite: true))
        #expect(replacing != first)
        let journaled = try fixture.journal(cluster).filter { $0.event == .submitted }.map(\.job)
        #expect(journaled == [first, replacing], "refused jobs must not be journaled")
    }

    @Test func aManifestWithATypoIsRefusedByTheCLIWithASuggestionAndNothingIsJournaled() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try cluster.startCoordinator()
        let path = (cluster.directory as NSString).appendingPathComponent("typo.yaml")
        try "input:\n  path: \(fixture.input)\noutput: typo.h5\npolicy:\n  samplr: smote\n".write(toFile: path, atomically: true, encoding: .utf8)
        let run = try Self.tailforge(fixture.executable, ["submit", path, "--coordinator", cluster.endpoint])
        #expect(run.status != 0)
        #expect(run.stderr.contains("\(path), line 5: `policy.samplr` is not a manifest key. Did you mean `sampler`?"), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(try fixture.journal(cluster).isEmpty)
    }

    @Test func aBadJournaledManifestFailsItsJobOnResumeAndTheCoordinatorKeepsServing() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        // What an earlier release accepted: a timeout that overflows a Duration when the shard is checked.
        var manifest = fixture.manifest(output: "journaled.h5", shards: 2)
        manifest.sharding.shardTimeoutSeconds = 1e300
        try Journal(directory: cluster.stateDirectory).append(JournalEntry(event: .submitted, job: "job-old", manifest: manifest))
        for _ in 0..<2 {
            try cluster.startCoordinator()
            let status = try #require(try ClusterClient(coordinator: cluster.endpoint).status(job: "job-old").jobs.first)
            #expect(status.state == .failed)
            #expect(status.error?.contains("`sharding.shard_timeout_seconds` is 1e+300; it must be a number of seconds from 0.1 to 604800") == true,
                    "\(status.error ?? "")")
            #expect(cluster.coordinator?.isRunning == true)
            cluster.stop()
        }
        #expect(try fixture.journal(cluster).map(\.event) == [.submitted, .failed])
    }
}
