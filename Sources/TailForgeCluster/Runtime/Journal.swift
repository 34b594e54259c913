import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One record of the coordinator's journal.
public struct JournalEntry: Codable, Sendable, Equatable {
    public enum Event: String, Codable, Sendable {
        case submitted, prepared, kappas, shard, committed, failed, cancelled
        /// A committed κ or shard result was withdrawn (its worker was caught lying): `shard` of stage `message`.
        case rejected
        /// A worker caught lying (by spot verification or the plan checks) is kept out of the job: `excluded` holds
        /// its name and principal, `message` names it as the resolved manifest does (`NAME (PRINCIPAL)`).
        case excluded
    }
    /// Spot verification's fraction and seed, journaled with the submission so a restart checks the same shards.
    public struct Verification: Codable, Sendable, Equatable {
        public var fraction: Double
        public var seed: UInt64
        public init(fraction: Double, seed: UInt64) { self.fraction = fraction; self.seed = seed }
    }
    public var event: Event
    public var job: String
    public var time: Date
    public var manifest: JobManifest?
    public var prepared: PreparedJob?
    public var shard: Int?
    public var sha256: String?
    public var path: String?
    public var message: String?
    public var verification: Verification?
    /// Who submitted the job (`key FINGERPRINT` or `address IP`), so the per-client limits hold across a restart.
    public var owner: String?
    /// On `kappas` and `shard`: the worker whose result was accepted without a second opinion (nil once another
    /// worker confirmed it), so a liar caught after a restart still has those results withdrawn.
    public var producer: String?
    /// On `kappas` and `shard`: the spot check that accepted the result, written with it so that a restart lists
    /// exactly the checks of committed results, never one twice.
    public var check: ResolvedManifest.Verification.Check?
    /// On `excluded`: the worker's name and principal, each refused from then on.
    public var excluded: [String]?

    public init(event: Event, job: String, manifest: JobManifest? = nil, prepared: PreparedJob? = nil, shard: Int? = nil,
                sha256: String? = nil, path: String? = nil, message: String? = nil, verification: Verification? = nil,
                owner: String? = nil, producer: String? = nil, check: ResolvedManifest.Verification.Check? = nil,
                excluded: [String]? = nil, time: Date = Date()) {
        self.event = event; self.job = job; self.time = time; self.manifest = manifest; self.prepared = prepared
        self.shard = shard; self.sha256 = sha256; self.path = path; self.message = message; self.verification = verification
        self.owner = owner; self.producer = producer; self.check = check; self.excluded = excluded
    }
}

/// A journal record that could not be read.
public struct JournalDamage: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var byteOffset: Int
    public var reason: String
    public var description: String { "record at line \(line) (byte \(byteOffset)): \(reason)" }
}

/// Why a journal operation failed.
public enum JournalError: Error, Equatable, CustomStringConvertible {
    /// A system call failed (`code` is its errno).
    case io(path: String, operation: String, code: Int32)
    /// A record that is not the last one does not verify. Only a torn tail is what an interrupted append
    /// leaves; damage followed by intact records is something else (a disk error, an edit), and dropping the
    /// record could silently lose a job or run a cancelled one again, so the journal is refused as a whole.
    case damaged(path: String, JournalDamage)

    public var description: String {
        switch self {
        case .io(let path, let operation, let code):
            return "cannot \(operation) the journal \(path): \(String(cString: strerror(code)))"
        case .damaged(let path, let damage):
            return "the journal \(path) is damaged at line \(damage.line) (byte \(damage.byteOffset)): \(damage.reason), and intact records follow it. "
                + "Only a torn last record is repaired on its own. Restore the journal from a backup, or move it aside "
                + "(`mv \(path) \(path).damaged`) to start with no jobs; committed outputs stay where they are."
        }
    }
}

/// The coordinator's durable job state: append-only lines, each `TFJ1 CRC32C JSON` (CRC-32C of the JSON as 8
/// hex digits), fsynced before the coordinator acts on it, so a killed coordinator restarts with every
/// committed shard.
///
/// A record is whole or absent: each append writes at the end of the last good record, and a failed write or
/// fsync truncates back to it, so a torn record (disk full, power loss) is never glued to the next one. On open
/// a torn tail (records after the last intact one that do not verify, or bytes without an end of line) is cut
/// off and reported in `tornTail`; a record that does not verify with intact records after it is an error
/// (``JournalError/damaged(path:_:)``), never skipped.
public final class Journal {
    public let path: String
    private let descriptor: Int32
    /// Offset just past the last good record: where the next append starts.
    private var end: Int
    /// The torn tail the open cut off, if there was one.
    public private(set) var tornTail: JournalDamage?

    static let fileName = "journal.jsonl"
    static let tag = "TFJ1 "
    /// Environment variable (N ≥ 1) that makes the coordinator's N-th journal append write half its record and
    /// then fail with ENOSPC, as a full disk does; tests use it. Never set it in production.
    public static let testFailAppendVariable = "TAILFORGE_TEST_JOURNAL_FAIL_APPEND"
    private let failAppend: Int?
    private var appends = 0

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent(Self.fileName)
        failAppend = ProcessInfo.processInfo.environment[Self.testFailAppendVariable].flatMap(Int.init)
        let data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        // Checked before the file is opened for writing: a damaged journal is left exactly as it was found.
        let scan = try Self.scan([UInt8](data), path: path)
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw JournalError.io(path: path, operation: "open", code: errno) }
        end = scan.end
        tornTail = scan.tornTail
        if end < data.count {
            _ = ftruncate(descriptor, off_t(end))
            _ = fsync(descriptor)
        }
    }

    deinit { close(descriptor) }

    /// Every entry, in order (a torn tail excluded).
    public func entries() throws -> [JournalEntry] {
        try Self.entries(directory: (path as NSString).deletingLastPathComponent)
    }

    /// Reads the journal in `directory` without opening it for writing (tools and tests, while a coordinator
    /// runs: a record being appended reads as a torn tail and is left out).
    public static func entries(directory: String) throws -> [JournalEntry] {
        let data = try Data(contentsOf: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(fileName)))
        return try scan([UInt8](data), path: (directory as NSString).appendingPathComponent(fileName)).entries
    }

    /// Appends one record and waits until it is on disk; on failure nothing of it stays in the file.
    public func append(_ entry: JournalEntry) throws {
        let line = try Self.encode(entry)
        try write(line, at: end)
        end += line.count
    }

    /// Replaces the journal with `entries` (compaction after purging old jobs): written beside it, fsynced and
    /// renamed over it, so a crash leaves either the old or the new journal.
    public func rewrite(_ entries: [JournalEntry]) throws {
        var bytes: [UInt8] = []
        for entry in entries { bytes += try Self.encode(entry) }
        let temporary = path + ".compact-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError.io(path: temporary, operation: "create", code: errno) }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            let code = written < 0 ? errno : ENOSPC
            unlink(temporary)
            throw JournalError.io(path: temporary, operation: "write", code: code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw JournalError.io(path: path, operation: "replace", code: code)
        }
        // The descriptor still names the old file; later appends go to a fresh descriptor on the new one.
        let fresh = open(path, O_RDWR | O_CLOEXEC)
        guard fresh >= 0 else { throw JournalError.io(path: path, operation: "reopen", code: errno) }
        _ = dup2(fresh, descriptor)
        close(fresh)
        end = bytes.count
    }

    private func write(_ line: [UInt8], at offset: Int) throws {
        appends += 1
        // The test hook: the disk "fills up" half-way through this record.
        let room = appends == failAppend ? line.count / 2 : line.count
        var done = 0
        while done < line.count {
            let count: Int
            if done < room {
                count = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, room - done, off_t(offset + done)) }
            } else {
                errno = ENOSPC
                count = -1
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let code = count < 0 ? errno : ENOSPC
                _ = ftruncate(descriptor, off_t(offset))
                throw JournalError.io(path: path, operation: "write", code: code)
            }
            done += count
        }
        guard fsync(descriptor) == 0 else {
            let code = errno
            _ = ftruncate(descriptor, off_t(offset))
            throw JournalError.io(path: path, operation: "fsync", code: code)
        }
    }

    static func encode(_ entry: JournalEntry) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let json = [UInt8](try encoder.encode(entry))
        let crc = String(CRC32C.checksum(json), radix: 16)
        return Array(tag.utf8) + Array((String(repeating: "0", count: 8 - crc.count) + crc + " ").utf8) + json + [UInt8(ascii: "\n")]
    }

    /// Splits `bytes` into records. `end` is the offset after the last intact record; anything after it (records
    /// that do not verify, bytes without an end of line) is the torn tail. A record that does not verify before
    /// an intact one throws.
    static func scan(_ bytes: [UInt8], path: String) throws(JournalError) -> (entries: [JournalEntry], tornTail: JournalDamage?, end: Int) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var entries: [JournalEntry] = []
        var firstBad: JournalDamage?
        var end = 0
        var start = 0
        var line = 0
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            line += 1
            let record = bytes[start..<newline]
            defer { start = newline + 1 }
            if record.isEmpty { continue }
            switch decode(record, decoder) {
            case .success(let entry):
                if let firstBad { throw .damaged(path: path, firstBad) }
                entries.append(entry)
                end = newline + 1
            case .failure(let reason):
                if firstBad == nil { firstBad = JournalDamage(line: line, byteOffset: start, reason: reason.text) }
            }
        }
        if firstBad == nil && start < bytes.count {
            firstBad = JournalDamage(line: line + 1, byteOffset: start, reason: "\(bytes.count - start) bytes without an end of line")
        }
        let tornTail = firstBad.map {
            JournalDamage(line: $0.line, byteOffset: $0.byteOffset,
                          reason: "torn last record (\($0.reason); \(bytes.count - end) bytes), cut off")
        }
        return (entries, tornTail, end)
    }

    private struct Unreadable: Error { var text: String }

    /// One line without its end of line: `TFJ1 CRC JSON`, or a plain JSON line from a journal written before
    /// records were checksummed.
    private static func decode(_ record: ArraySlice<UInt8>, _ decoder: JSONDecoder) -> Result<JournalEntry, Unreadable> {
        let json: ArraySlice<UInt8>
        if record.starts(with: tag.utf8) {
            let header = record.dropFirst(tag.utf8.count)
            guard header.count > 9, header[header.startIndex + 8] == UInt8(ascii: " "),
                  let expected = UInt32(String(decoding: header.prefix(8), as: UTF8.self), radix: 16) else {
                return .failure(Unreadable(text: "malformed record header"))
            }
            json = header.dropFirst(9)
            guard CRC32C.checksum(json) == expected else { return .failure(Unreadable(text: "checksum mismatch")) }
        } else if record.first == UInt8(ascii: "{") {
            json = record
        } else {
            return .failure(Unreadable(text: "not a journal record"))
        }
        do { return .success(try decoder.decode(JournalEntry.self, from: Data(json))) } catch {
            return .failure(Unreadable(text: "unreadable JSON"))
        }
    }
}
