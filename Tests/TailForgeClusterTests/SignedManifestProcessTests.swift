import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
/// A real keyed coordinator signs the resolved manifest of a real job, and the real `tailforge replay` checks it.
@Suite struct SignedManifestProcessTests {
    struct Run {
        var status: Int32
        var output: String
    }

    func tailforge(_ executable: String, _ arguments: [String]) async throws -> Run {
        let run = try await Child.run(executable, arguments, environment: ["TAILFORGE_BLAS_AUTOSELECT": "0"])
        return Run(status: run.status, output: run.stdout + run.stderr)
    }

    @Test func keygenWritesTheSigningPairAndReplayVerifiesWhatTheCoordinatorSigned() async throws {
        let fixture = try await ProcessClusterTests.shared()
        // The contract files, from the real command (the coordinator then finds coordinator.sign.key beside --key).
        let cluster = fixture.cluster()
        cluster.secure = true
        defer { cluster.stop() }
        let keys = cluster.keyDirectory
        for name in ["coordinator", "worker", "client"] {
            let keygen = try await tailforge(fixture.executable, ["keygen", "--out", keys, "--name", name])
            #expect(keygen.status == 0, "\(keygen.output)")
            #expect(keygen.output.contains("\(keys)/\(name).sign.pub"))
        }
        for (folder, name) in [("workers", "worker"), ("clients", "client")] {
            try FileManager.default.createDirectory(atPath: cluster.allowDirectory + "/" + folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: keys + "/\(name).pub", toPath: cluster.allowDirectory + "/\(folder)/\(name).pub")
        }
        #expect((try FileManager.default.attributesOfItem(atPath: keys + "/coordinator.sign.key")[.posixPermissions] as? Int) == 0o600)

        try await cluster.startCoordinator()
        try cluster.startWorker()
        let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5, security: try cluster.clientSecurity)
        let manifest = fixture.manifest(output: "signed.h5", shards: 2)
        let job = try client.submit(manifest)
        let final = try await ProcessClusterTests.waitForJob(job, on: cluster.endpoint, security: try cluster.clientSecurity, seconds: 60)
        #expect(final?.state == .committed, "\(final?.error ?? "")")
        let path = ResolvedManifest.path(forOutput: manifest.output)
        let signed = try ResolvedManifest.read(from: path)
        let publicKey = try SigningPublicKey.load(publicKeyFile: keys + "/coordinator.sign.pub")
        #expect(signed.signature?.key == publicKey.fingerprint)

        let replay = ["replay", path, "--local", "--threads", "1"]
        let verified = try await tailforge(fixture.executable, replay + ["--coordinator-signing-key", keys + "/coordinator.sign.pub"])
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.contains("signature verified: signed by the coordinator key \(publicKey.fingerprint)"))
        #expect(verified.output.contains("is bit-identical"))
        let unchecked = try await tailforge(fixture.executable, replay)
        #expect(unchecked.status == 0 && unchecked.output.contains("signature not checked (pass --coordinator-signing-key"), "\(unchecked.output)")
        Replay.removeOutput(Replay.defaultOutput(for: manifest.output))

        // Another key: refused before any work.
        let wrong = try await tailforge(fixture.executable, replay + ["--coordinator-signing-key", keys + "/client.sign.pub"])
        #expect(wrong.status != 0 && wrong.output.contains("was signed by the key with fingerprint \(publicKey.fingerprint), not by the given key"), "\(wrong.output)")
        #expect(!wrong.output.contains("bit-identical"))
        // The CURVE public key by mistake: a hint, not a crash.
        let curve = try await tailforge(fixture.executable, replay + ["--coordinator-signing-key", keys + "/coordinator.pub"])
        #expect(curve.status != 0 && curve.output.contains("it holds a CURVE key"), "\(curve.output)")

        // Edited and resealed (what anyone can do to a seal): refused with the key, accepted without it.
        var edited = signed
        edited.manifest.policy.seed += 1
        edited.outputSHA256 = String(repeating: "0", count: 64)
        edited.manifestSHA256 = try edited.contentSHA256()
        try ResolvedManifest.encoder().encode(edited).write(to: URL(fileURLWithPath: path))
        let refused = try await tailforge(fixture.executable, replay + ["--coordinator-signing-key", keys + "/coordinator.sign.pub"])
        #expect(refused.status != 0 && refused.output.contains("does not match its content: the file was changed after the coordinator signed it"), "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: Replay.defaultOutput(for: manifest.output)))
    }
}
}
