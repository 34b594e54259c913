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

    public init(event: Event, job: String, manifest: JobManifest? = nil, prepared: PreparedJob? = nil, shard: Int? = nil,
                sha256: String? = nil, path: String? = nil, message: String? = nil, time: Date = Date()) {
        self.event = event; self.job = job; self.time = time; self.manifest = manifest; self.prepared = prepared
        self.shard = shard; self.sha256 = sha256; self.path = path; self.message = message
    }
}

/// A journal record that could not be read: reported, skipped, never merged with its neighbour.
public struct JournalDamage: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var byteOffset: Int
    public var reason: String
    public var description: String { "record at line \(line) (byte \(byteOffset)) skipped: \(reason)" }
}

/// Why a journal operation failed.
public struct JournalError: Error, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var code: Int32
    public var description: String { "cannot \(operation) the journal \(path): \(String(cString: strerror(code)))" }
}

/// The coordinator's durable job state: append-only lines, each `TFJ1 CRC32C JSON` (CRC-32C of the JSON as 8
/// hex digits), fsynced before the coordinator acts on it, so a killed coordinator restarts with every
/// committed shard.
///
/// A record is whole or absent: each append writes at the end of the last good record, and a failed write or
/// fsync truncates back to it, so a torn record (disk full, power loss) is never glued to the next one. On open
/// a torn tail is cut off; any record whose checksum or JSON does not verify is reported in `damage` and skipped.
public final class Journal {
    public let path: String
    private let descriptor: Int32
    /// Offset just past the last good record: where the next append starts.
    private var end: Int
    /// What the open found wrong (torn tail, checksum mismatches).
    public private(set) var damage: [JournalDamage] = []

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
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw JournalError(path: path, operation: "open", code: errno) }
        let data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        let scan = Self.scan([UInt8](data))
        end = scan.end
        damage = scan.damage
        if end < data.count {
            damage.append(JournalDamage(line: scan.lines + 1, byteOffset: end,
                                        reason: "torn record (\(data.count - end) bytes without an end of line), cut off"))
            _ = ftruncate(descriptor, off_t(end))
            _ = fsync(descriptor)
        }
    }

    deinit { close(descriptor) }

    /// Every intact entry, in order.
    public func entries() throws -> [JournalEntry] {
        try Self.entries(directory: (path as NSString).deletingLastPathComponent)
    }

    /// Reads the journal in `directory` without opening it for writing (tools and tests, while a coordinator
    /// runs).
    public static func entries(directory: String) throws -> [JournalEntry] {
        let data = try Data(contentsOf: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(fileName)))
        return scan([UInt8](data)).entries
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
        guard fd >= 0 else { throw JournalError(path: temporary, operation: "create", code: errno) }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            let code = written < 0 ? errno : ENOSPC
            unlink(temporary)
            throw JournalError(path: temporary, operation: "write", code: code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw JournalError(path: path, operation: "replace", code: code)
        }
        // The descriptor still names the old file; later appends go to a fresh descriptor on the new one.
        let fresh = open(path, O_RDWR | O_CLOEXEC)
        guard fresh >= 0 else { throw JournalError(path: path, operation: "reopen", code: errno) }
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
                throw JournalError(path: path, operation: "write", code: code)
            }
            done += count
        }
        guard fsync(descriptor) == 0 else {
            let code = errno
            _ = ftruncate(descriptor, off_t(offset))
            throw JournalError(path: path, operation: "fsync", code: code)
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

    /// Splits `bytes` into records; `end` is the offset after the last complete line.
    static func scan(_ bytes: [UInt8]) -> (entries: [JournalEntry], damage: [JournalDamage], end: Int, lines: Int) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var entries: [JournalEntry] = []
        var damage: [JournalDamage] = []
        var start = 0
        var line = 0
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            line += 1
            let record = bytes[start..<newline]
            defer { start = newline + 1 }
            if record.isEmpty { continue }
            let json: ArraySlice<UInt8>
            if record.starts(with: tag.utf8) {
                let header = record.dropFirst(tag.utf8.count)
                guard header.count > 9, header[header.startIndex + 8] == UInt8(ascii: " "),
                      let expected = UInt32(String(decoding: header.prefix(8), as: UTF8.self), radix: 16) else {
                    damage.append(JournalDamage(line: line, byteOffset: start, reason: "malformed record header"))
                    continue
                }
                json = header.dropFirst(9)
                guard CRC32C.checksum(json) == expected else {
                    damage.append(JournalDamage(line: line, byteOffset: start, reason: "checksum mismatch"))
                    continue
                }
            } else if record.first == UInt8(ascii: "{") {
                json = record  // a plain JSON line from a journal written before records were checksummed
            } else {
                damage.append(JournalDamage(line: line, byteOffset: start, reason: "not a journal record"))
                continue
            }
            do {
                entries.append(try decoder.decode(JournalEntry.self, from: Data(json)))
            } catch {
                damage.append(JournalDamage(line: line, byteOffset: start, reason: "unreadable JSON"))
            }
        }
        return (entries, damage, start, line)
    }
}
