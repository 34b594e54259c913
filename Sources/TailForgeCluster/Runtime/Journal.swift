import Foundation

/// One line of the coordinator's journal.
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
                sha256: String? = nil, path: String? = nil, message: String? = nil) {
        self.event = event; self.job = job; self.time = Date(); self.manifest = manifest; self.prepared = prepared
        self.shard = shard; self.sha256 = sha256; self.path = path; self.message = message
    }
}

/// The coordinator's durable job state: append-only JSON lines, each fsynced before the coordinator acts on it,
/// so a killed coordinator restarts with every committed shard.
public final class Journal {
    public let path: String
    private let handle: FileHandle

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("journal.jsonl")
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        self.handle = handle
        _ = try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Every entry written so far; a torn last line (power loss mid-write) is ignored.
    public func entries() throws -> [JournalEntry] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(JournalEntry.self, from: Data($0)) }
    }

    /// Appends one entry and waits until it is on disk.
    public func append(_ entry: JournalEntry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        var line = try encoder.encode(entry)
        line.append(UInt8(ascii: "\n"))
        try handle.write(contentsOf: line)
        try handle.synchronize()
    }
}
