import Foundation
import TailForgeTestSupport
import Testing
@testable import TailForgeCluster

/// `tailforge keygen` and the key-file rules every daemon relies on at start.
@Suite struct KeyFileTests {
    func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func writtenPairRoundTripsWithOwnerOnlySecret() throws {
        try withTemporaryDirectory("keys") { scratch in
            let directory = scratch + "/new/keys"  // a missing directory is created
            try FileManager.default.createDirectory(atPath: (directory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let pair = try CurveKeyPair.generate()
            let paths = try pair.write(to: directory, name: "worker-1")
            #expect(paths.secret == directory + "/worker-1.key")
            #expect(try mode(paths.secret) == 0o600)
            #expect(try mode(directory) == 0o700)
            #expect(try CurveKeyPair.load(secretKeyFile: paths.secret) == pair)
            #expect(try CurveKey.load(publicKeyFile: paths.public) == pair.publicKey)
            #expect(pair.publicKey.utf8.count == 40 && pair.secretKey.utf8.count == 40)
            let raw = try #require(CurveKey.bytes(pair.publicKey))
            #expect(CurveKey.z85(raw) == pair.publicKey)
            #expect(CurveKey.fingerprint(raw: raw).count == 16)
        }
    }

    @Test func twoPairsDiffer() throws {
        #expect(try CurveKeyPair.generate() != CurveKeyPair.generate())
    }

    @Test func existingKeyIsNeverOverwritten() throws {
        try withTemporaryDirectory("keys") { directory in
            let first = try CurveKeyPair.generate()
            let paths = try first.write(to: directory, name: "c")
            #expect(throws: KeyFileError.alreadyExists(path: paths.secret)) {
                try CurveKeyPair.generate().write(to: directory, name: "c")
            }
            #expect(try CurveKeyPair.load(secretKeyFile: paths.secret) == first)
        }
    }

    @Test(arguments: [0o640, 0o604, 0o660, 0o644, 0o666])
    func secretReadableByOthersIsRefused(mode: Int) throws {
        try withTemporaryDirectory("keys") { directory in
            let paths = try CurveKeyPair.generate().write(to: directory, name: "k")
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: paths.secret)
            #expect(throws: KeyFileError.tooOpen(path: paths.secret, mode: UInt32(0o100000 | mode))) {
                try CurveKeyPair.load(secretKeyFile: paths.secret)
            }
        }
    }

    @Test func malformedAndMissingKeysAreNamed() throws {
        withTemporaryDirectory("keys") { directory in
            let path = directory + "/bad.key"
            #expect(FileManager.default.createFile(atPath: path, contents: Data("not a key\n".utf8), attributes: [.posixPermissions: 0o600]))
            #expect(throws: KeyFileError.self) { try CurveKeyPair.load(secretKeyFile: path) }
            #expect(throws: KeyFileError.self) { try CurveKeyPair.load(secretKeyFile: directory + "/absent.key") }
            #expect(throws: KeyFileError.self) { try CurveKeyPair.generate().write(to: directory, name: "../escape") }
        }
    }

    @Test func keygenCommandWritesTheContractFiles() async throws {
        let executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
        try await withTemporaryDirectory("keys") { scratch in
            let directory = scratch + "/missing/keys"
            func keygen() async throws -> Int32 {
                try await Child.run(executable, ["keygen", "--out", directory, "--name", "coordinator"]).status
            }
            #expect(try await keygen() == 0)
            #expect(try mode(directory + "/coordinator.key") == 0o600)
            let pair = try CurveKeyPair.load(secretKeyFile: directory + "/coordinator.key")
            #expect(try CurveKey.load(publicKeyFile: directory + "/coordinator.pub") == pair.publicKey)
            #expect(try await keygen() != 0)  // the same command twice refuses rather than replacing the key
            #expect(try CurveKeyPair.load(secretKeyFile: directory + "/coordinator.key") == pair)
        }
    }
}
