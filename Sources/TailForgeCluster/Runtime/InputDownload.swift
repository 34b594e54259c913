import Foundation

/// A streamed copy of a job's input being assembled in the worker's work directory.
struct InputDownload: Sendable {
    let assignment: AssignShard
    let kappas: [Float]
    let localPath: String
    let total: Int64
    private(set) var received: Int64 = 0
    private let handle: FileHandle
    private var partialPath: String { localPath + ".partial" }

    static func localPath(workDirectory: String, sha256: String) -> String {
        (workDirectory as NSString).appendingPathComponent("input-\(sha256).h5")
    }

    init(assignment: AssignShard, kappas: [Float], localPath: String) throws {
        self.assignment = assignment
        self.kappas = kappas
        self.localPath = localPath
        self.total = assignment.input.byteCount
        let partial = localPath + ".partial"
        _ = FileManager.default.createFile(atPath: partial, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: partial) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: partial])
        }
        self.handle = handle
    }

    mutating func append(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty || received == total else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "empty chunk at offset \(received) of \(total)"])
        }
        try handle.write(contentsOf: bytes)
        received += Int64(bytes.count)
    }

    /// Gives the copy up: closes and deletes the partial file.
    func abandon() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: partialPath)
    }

    /// Checks the copy against the manifest's SHA-256 and moves it into place. Reads the whole file: call it
    /// off the network thread.
    func finish() throws {
        try handle.synchronize()
        try handle.close()
        let digest = try FileDigest.sha256(ofFileAt: partialPath)
        guard digest == assignment.input.sha256 else {
            try? FileManager.default.removeItem(atPath: partialPath)
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey:
                "streamed input has SHA-256 \(digest), the job expects \(assignment.input.sha256)"])
        }
        try? FileManager.default.removeItem(atPath: localPath)
        try FileManager.default.moveItem(atPath: partialPath, toPath: localPath)
    }
}
