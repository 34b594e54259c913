import Foundation

/// The public keys a coordinator accepts, each with its role: `DIR/workers/*.pub` and `DIR/clients/*.pub`.
public struct AllowList: Sendable, Equatable {
    /// Raw 32-byte public key → role.
    public private(set) var roles: [[UInt8]: PeerRole]
    /// The directory it was read from.
    public let directory: String

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
        return AllowList(directory: directory, roles: roles)
    }

    /// The role of a peer's raw public key, or nil when it is not allowed.
    public func role(of rawKey: [UInt8]) -> PeerRole? { roles[rawKey] }

    public var workerCount: Int { roles.values.filter { $0 == .worker }.count }
    public var clientCount: Int { roles.values.filter { $0 == .client }.count }
}
