import Foundation
import Testing
@testable import TailForgeStorage
import TailForgeTestSupport

@Suite struct SHA256Tests {
    /// FIPS 180-4 / NIST example vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func matchesFIPSVectors(message: String, digest: String) {
        #expect(SHA256.hexDigest(of: Array(message.utf8)) == digest)
    }

    @Test func millionAsMatchesFIPSVector() {
        var hasher = SHA256()
        let block = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(block) }
        #expect(hasher.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingInUnevenPiecesEqualsOneShot() {
        let bytes = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let expected = SHA256.hexDigest(of: bytes)
        for pieces in [[1, 62, 1, 64, 872], [63, 1, 0, 936], [500, 500], [128, 55, 817]] {
            var hasher = SHA256()
            var start = 0
            for size in pieces {
                hasher.update(bytes[start..<(start + size)])
                start += size
            }
            #expect(hasher.hexDigest() == expected, "pieces \(pieces)")
        }
    }

    @Test func finalizeLeavesTheHasherUsable() {
        var hasher = SHA256()
        hasher.update(Array("ab".utf8))
        #expect(hasher.hexDigest() == SHA256.hexDigest(of: Array("ab".utf8)))
        hasher.update(Array("c".utf8))
        #expect(hasher.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func typedElementsHashTheirLittleEndianBytes() {
        var hasher = SHA256()
        [Int32(1), 0x0102_0304].withUnsafeBufferPointer { hasher.update(elementsOf: $0) }
        #expect(hasher.hexDigest() == SHA256.hexDigest(of: [1, 0, 0, 0, 4, 3, 2, 1] as [UInt8]))
    }

    @Test func fileDigestMatchesSha256sum() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("blob.bin")
        // Just over 1 MiB so the 1 MiB read loop runs twice, the second block partial.
        let bytes = (0..<(1_048_576 + 12_345)).map { UInt8(truncatingIfNeeded: ($0 * 2_654_435_761) >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let reference = String(output.prefix(64))
        #expect(reference.count == 64)
        #expect(try SHA256.hexDigest(ofFileAt: path) == reference)
    }

    @Test func missingFileIsReported() {
        let path = TemporaryDirectory("storage").file("absent")
        #expect(storageError { try SHA256.hexDigest(ofFileAt: path) } == .missingFile(path: path))
    }
}
