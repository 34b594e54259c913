// The "old" side of Scripts/benchmark-balance's hash comparison: compiled with `swiftc -O` together with the
// hand-written SHA256.swift that swift-crypto replaced (taken from git history by the script), it hashes the same
// buffer as `tailforge-bench digest` (word i = splitmix64(i)) and prints its throughput and digest.
// Usage: sha256-reference MIB
#if canImport(Glibc)
import Glibc
#endif

// What the old file needs from TailForgeStorage for `hexDigest(ofFileAt:)`, which this program does not call.
public enum StorageError: Error {
    case missingFile(path: String)
    case ioFailed(path: String, operation: String, reason: String)
}

enum POSIXFile {
    static func retryingInterrupts(_ body: () -> Int32) -> Int32 { body() }
    static func errorText() -> String { String(cString: strerror(errno)) }
}

func splitmix64(_ index: UInt64) -> UInt64 {
    var z = index &* 0x9E37_79B9_7F4A_7C15 &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

func now(_ clock: clockid_t) -> Double {
    var time = timespec()
    clock_gettime(clock, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

let mib = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 512 : 512
let words = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: mib << 17)
for i in words.indices { words[i] = splitmix64(UInt64(i)) }
let bytes = UnsafeRawBufferPointer(words)
var best = (wall: Double.infinity, cpu: Double.infinity)
var digest = ""
for _ in 0..<3 {
    let (wall0, cpu0) = (now(CLOCK_MONOTONIC), now(CLOCK_THREAD_CPUTIME_ID))
    var hasher = SHA256()
    hasher.update(bytes)
    digest = hasher.hexDigest()
    best = (min(best.wall, now(CLOCK_MONOTONIC) - wall0), min(best.cpu, now(CLOCK_THREAD_CPUTIME_ID) - cpu0))
}
let megabytes = Double(bytes.count) / 1e6
print("sha256 hand-written (replaced): \(mib) MiB buffer, best of 3: \(Int(megabytes / best.wall)) MB/s wall, "
      + "\(Int(megabytes / best.cpu)) MB/s per CPU second (digest \(digest))")
