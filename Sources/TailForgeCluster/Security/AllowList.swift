import Foundation

/// The public keys a coordinator accepts, each with its role: `DIR/workers/*.pub` and `DIR/clients/*.pub`.
public struct AllowList: Sendable, Equatable {
    /// Raw 32-byte public key → role.
    public private(set) var roles: [[UInt8]: PeerRole]
    /// The directory it was read from.
    public let directory: String
    /// `.pub` files lying in `directory` itself, where no role applies (a key copied to `allow/` instead of
    /// `allow/workers/`): ignored, and named in `warnings`.
    public private(set) var ignored: [String] = []

    public init(directory: String, roles: [[UInt8]: PeerRole]) {
        self.directory = directory
        self.roles = roles
    }

    /// Reads the directory; a malformed key file or a key listed under both roles is an error naming the file,
    /// since guessing would either lock a peer out or grant it the wrong rights.
    public static func load(directory: String) throws(KeyFileError) -> AllowList {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .io(path: directory, reason: "no such allow-list directory; create \(directory)/workers and \(directory)/clients and copy peers' .pub files there")
        }
        var roles: [[UInt8]: PeerRole] = [:]
        for (folder, role) in [("workers", PeerRole.worker), ("clients", PeerRole.client)] {
            let path = (directory as NSString).appendingPathComponent(folder)
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".pub") }.sorted()
            for name in names {
                let file = (path as NSString).appendingPathComponent(name)
                let key = try CurveKey.load(publicKeyFile: file)
                guard let raw = CurveKey.bytes(key) else { throw .malformed(path: file, reason: "not a Z85 key") }
                if let other = roles[raw], other != role {
                    throw .malformed(path: file, reason: "the same key is also allowed as a \(other.rawValue); a key has one role")
                }
                roles[raw] = role
            }
        }
        var list = AllowList(directory: directory, roles: roles)
        list.ignored = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".pub") }.sorted()
        return list
    }

    /// What an operator should fix, for the log: the coordinator starts anyway (keys can be added and reloaded with
    /// SIGHUP), but a refused worker only learns that its handshake failed.
    public var warnings: [String] {
        var warnings: [String] = []
        if !ignored.isEmpty {
            warnings.append("allow-list \(directory): \(ignored.joined(separator: ", ")) lie(s) in the directory itself and are ignored; "
                + "move worker keys to \(directory)/workers/ and client keys to \(directory)/clients/, then reload (SIGHUP)")
        }
        if workerCount == 0 {
            warnings.append("allow-list \(directory): no worker key in \(directory)/workers/, so no worker can register; "
                + "copy each worker's NAME.pub there, then reload (SIGHUP)")
        }
        return warnings
    }

    /// The role of a peer's raw public key, or nil when it is not allowed.
    public func role(of rawKey: [UInt8]) -> PeerRole? { roles[rawKey] }

    public var workerCount: Int { roles.values.filter { $0 == .worker }.count }
    public var clientCount: Int { roles.values.filter { $0 == .client }.count }
}
