import Foundation
import TailForgeTestSupport
import Testing
import TailForgeEngine
import TailForgeFuzzTargets
import TailForgeStorage
@testable import TailForgeCluster

/// Resolved manifests signed with the coordinator's Ed25519 key, and the signing key files `keygen` writes.
@Suite struct ManifestSigningTests {
    /// Removed when Swift Testing releases this test's instance of the suite.
    let scratch = TemporaryDirectory("signing")
    var directory: String { scratch.path }
    let coordinator = SigningKeyPair.generate()

    func written(_ resolved: ResolvedManifest = FuzzSeeds.resolvedManifest(), key: SigningKeyPair? = nil) throws -> ResolvedManifest {
        try ResolvedManifest.decode(resolved.sealedJSON(signingKey: key ?? coordinator))
    }

    func refusal(_ resolved: ResolvedManifest, _ key: SigningPublicKey) -> String? {
        do { try resolved.verify(source: "out.manifest.json", toolVersion: ToolVersion.current, signingKey: key); return nil } catch {
            return error.description
        }
    }

    @Test func aSignedManifestVerifiesWithTheCoordinatorsPublicKey() throws {
        let resolved = try written()
        let signature = try #require(resolved.signature)
        #expect(signature.algorithm == "ed25519" && signature.key == coordinator.publicKey.fingerprint)
        #expect(Data(base64Encoded: signature.value)?.count == 64)
        #expect(refusal(resolved, coordinator.publicKey) == nil)
        // The signature is not part of the seal, so an older replay (seal only) still accepts a signed file.
        try resolved.verify(source: "out.manifest.json", toolVersion: ToolVersion.current)
    }

    @Test func anEditedAndResealedManifestIsRefused() throws {
        var resolved = try written()
        // What a seal alone cannot catch: the edit and a recomputed `manifestSHA256`.
        resolved.outputSHA256 = String(repeating: "9", count: 64)
        resolved.manifestSHA256 = try resolved.contentSHA256()
        try resolved.verify(source: "out.manifest.json", toolVersion: ToolVersion.current)
        #expect(refusal(resolved, coordinator.publicKey)?.contains("does not match its content: the file was changed after the coordinator signed it") == true)
        // Edited without resealing: the seal refuses it first, with or without the key.
        var unsealed = try written()
        unsealed.manifest.policy.seed += 1
        #expect(refusal(unsealed, coordinator.publicKey)?.contains("was changed after the coordinator wrote it") == true)
    }

    @Test func aWrongKeyAForgedSignatureAndAnUnsignedManifestAreRefused() throws {
        let other = SigningKeyPair.generate()
        let resolved = try written()
        #expect(refusal(resolved, other.publicKey)?.contains("was signed by the key with fingerprint \(coordinator.publicKey.fingerprint), not by the given key (fingerprint \(other.publicKey.fingerprint))") == true)
        // Re-signed by another key that claims the coordinator's fingerprint.
        var forged = try written(key: other)
        forged.signature?.key = coordinator.publicKey.fingerprint
        #expect(refusal(forged, coordinator.publicKey)?.contains("does not match its content") == true)
        // Signature stripped: the seal still holds, the key check does not.
        var stripped = resolved
        stripped.signature = nil
        #expect(refusal(stripped, coordinator.publicKey)?.contains("is not signed") == true)
        var otherAlgorithm = resolved
        otherAlgorithm.signature?.algorithm = "none"
        #expect(refusal(otherAlgorithm, coordinator.publicKey)?.contains("checks only `ed25519` signatures") == true)
    }

    @Test func keygenWritesBothPairsOwnerOnlyAndNeverHalfOrOver() throws {
        let written = try KeyGenerator.generate(directory: directory, name: "coordinator")
        func mode(_ path: String) throws -> Int { try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1 }
        #expect(try mode(written.curveSecret) == 0o600 && mode(written.signingSecret) == 0o600)
        #expect(try mode(written.curvePublic) == 0o644 && mode(written.signingPublic) == 0o644)
        #expect(written.signingSecret == directory + "/coordinator.sign.key" && written.signingPublic == directory + "/coordinator.sign.pub")
        let pair = try SigningKeyPair.load(secretKeyFile: written.signingSecret)
        #expect(try SigningPublicKey.load(publicKeyFile: written.signingPublic) == pair.publicKey)
        // The CURVE pair is unchanged by the addition.
        #expect(try CurveKeyPair.load(secretKeyFile: written.curveSecret).publicKey == CurveKey.load(publicKeyFile: written.curvePublic))
        // The coordinator finds the signing key beside its CURVE key.
        #expect(try SigningKeyPair.forCoordinator(signingKeyFile: nil, curveKeyFile: written.curveSecret)?.publicKey == pair.publicKey)

        // Any one of the four existing: nothing is written.
        try FileManager.default.removeItem(atPath: written.curveSecret)
        try FileManager.default.removeItem(atPath: written.curvePublic)
        #expect(throws: KeyFileError.alreadyExists(path: written.signingSecret)) { try KeyGenerator.generate(directory: directory, name: "coordinator") }
        #expect(!FileManager.default.fileExists(atPath: written.curveSecret))
    }

    @Test func keyFilesOfTheWrongKindOrModeAreRefusedWithAHint() throws {
        let written = try KeyGenerator.generate(directory: directory, name: "c")
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        #expect(message { _ = try SigningPublicKey.load(publicKeyFile: written.curvePublic) }.contains("it holds a CURVE key"))
        #expect(message { _ = try SigningKeyPair.load(secretKeyFile: written.curveSecret) }.contains("pass the NAME.sign.key file"))
        #expect(message { _ = try CurveKey.load(publicKeyFile: written.signingPublic) }.contains("this is a signing key"))
        // A public key given as the coordinator's signing key: named as the wrong kind, not as too open.
        #expect(message { _ = try SigningKeyPair.load(secretKeyFile: written.signingPublic) }.contains("expected an Ed25519 signing secret key"))
        chmod(written.signingSecret, 0o644)
        #expect(throws: KeyFileError.tooOpen(path: written.signingSecret, mode: 0o100644)) { _ = try SigningKeyPair.load(secretKeyFile: written.signingSecret) }
        #expect(throws: KeyFileError.self) { _ = try SigningKeyPair.forCoordinator(signingKeyFile: directory + "/missing.sign.key", curveKeyFile: nil) }
        #expect(try SigningKeyPair.forCoordinator(signingKeyFile: nil, curveKeyFile: directory + "/nothing.key") == nil)
    }
}
