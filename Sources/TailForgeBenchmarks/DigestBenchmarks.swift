// Suite "digest": SHA-256 throughput of TailForgeStorage's `SHA256` (swift-crypto / BoringSSL) on one in-memory
// buffer, and on a file read through `SHA256.hexDigest(ofFileAt:)` (page cache). Options: `--mib N` (buffer size,
// default 512), `--file PATH` (also digest that file). The buffer is word i = splitmix64(i), the same one
// Scripts/sha256-reference.swift hashes with the hand-written SHA-256 it replaced, so the printed digests match.
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TailForgeStorage

/// The "digest" suite.
enum DigestBenchmarks {
    static func run(_ options: [String]) throws {
        func value(_ name: String) -> String? { options.firstIndex(of: name).flatMap { $0 + 1 < options.count ? options[$0 + 1] : nil } }
        let mib = value("--mib").flatMap(Int.init) ?? 512
        let words = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: mib << 17)
        defer { words.deallocate() }
        for i in words.indices { words[i] = splitmix64(UInt64(i)) }
        let bytes = UnsafeRawBufferPointer(words)

        var best = (wall: Double.infinity, cpu: Double.infinity)
        var digest = ""
        for _ in 0..<3 {
            let (wall, cpu) = timed {
                var hasher = SHA256()
                hasher.update(bytes)
                digest = hasher.hexDigest()
            }
            best = (min(best.wall, wall), min(best.cpu, cpu))
        }
        let megabytes = Double(bytes.count) / 1e6
        print(String(format: "sha256 swift-crypto: %d MiB buffer, best of 3: %.0f MB/s wall, %.0f MB/s per CPU second (digest %@)",
                     mib, megabytes / best.wall, megabytes / best.cpu, digest))

        if let path = value("--file") {
            var size = stat()
            guard stat(path, &size) == 0 else { throw DigestBenchmarkError(message: "cannot stat \(path)") }
            let (wall, cpu) = try timedThrowing { _ = try SHA256.hexDigest(ofFileAt: path) }
            let fileMB = Double(size.st_size) / 1e6
            print(String(format: "sha256 swift-crypto of %@ (%.0f MB, read(2) in 1 MiB blocks): %.2f s wall, %.0f MB/s wall, %.0f MB/s per CPU second",
                         path, fileMB, wall, fileMB / wall, fileMB / cpu))
        }
    }

    struct DigestBenchmarkError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func splitmix64(_ index: UInt64) -> UInt64 {
        var z = index &* 0x9E37_79B9_7F4A_7C15 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func timed(_ body: () -> Void) -> (wall: Double, cpu: Double) {
        let (wall0, cpu0) = (now(CLOCK_MONOTONIC), now(CLOCK_THREAD_CPUTIME_ID))
        body()
        return (now(CLOCK_MONOTONIC) - wall0, now(CLOCK_THREAD_CPUTIME_ID) - cpu0)
    }

    static func timedThrowing(_ body: () throws -> Void) throws -> (wall: Double, cpu: Double) {
        let (wall0, cpu0) = (now(CLOCK_MONOTONIC), now(CLOCK_THREAD_CPUTIME_ID))
        try body()
        return (now(CLOCK_MONOTONIC) - wall0, now(CLOCK_THREAD_CPUTIME_ID) - cpu0)
    }

    static func now(_ clock: clockid_t) -> Double {
        var time = timespec()
        clock_gettime(clock, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
