#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZeroMQ
import TailForgeStorage

/// A ZeroMQ CURVE keypair in libzmq's Z85 text form (40 characters per 32-byte key).
///
/// On disk (`tailforge keygen`): `NAME.key` holds the secret key alone, mode 0600, and `NAME.pub` the public
/// key; both are one Z85 line. The public key is derived from the secret one (`zmq_curve_public`), so a
/// secret key file is all a daemon needs to present its identity.
public struct CurveKeyPair: Sendable, Equatable {
    /// Z85 public key (40 characters).
    public let publicKey: String
    /// Z85 secret key (40 characters).
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh keypair from libzmq's CSPRNG-backed `zmq_curve_keypair`.
    public static func generate() throws(KeyFileError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw .io(path: "zmq_curve_keypair", reason: "libzmq was built without CURVE support (zmq_has(\"curve\") is false)")
        }
        return CurveKeyPair(publicKey: CurveKey.string(publicKey), secretKey: CurveKey.string(secretKey))
    }

    /// Writes `directory/name.key` (0600) and `directory/name.pub` (0644), creating `directory` (0700) if
    /// needed; refuses to overwrite either file. Returns the two paths.
    @discardableResult
    public func write(to directory: String, name: String) throws(KeyFileError) -> (secret: String, public: String) {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw .malformed(path: name, reason: "a key name is one file name without '/'")
        }
        // mkdir -p, each new level owner-only: a key directory others can list leaks which keys exist.
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw .io(path: directory, reason: "cannot create the key directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
        let secretPath = directory + "/" + name + ".key"
        let publicPath = directory + "/" + name + ".pub"
        for path in [secretPath, publicPath] where access(path, F_OK) == 0 { throw .alreadyExists(path: path) }
        try CurveKey.create(secretPath, contents: secretKey + "\n", mode: 0o600)
        do {
            try CurveKey.create(publicPath, contents: publicKey + "\n", mode: 0o644)
        } catch {
            unlink(secretPath)  // no half-written pair
            throw error
        }
        return (secretPath, publicPath)
    }

    /// Reads a secret key file, refusing one whose mode lets group or others read or write it.
    public static func load(secretKeyFile path: String) throws(KeyFileError) -> CurveKeyPair {
        try CurveKey.checkOwnerOnly(path)
        let secret = try CurveKey.readKey(path)
        var publicKey = [CChar](repeating: 0, count: 41)
        let derived = secret.withCString { zmq_curve_public(&publicKey, $0) }
        guard derived == 0 else { throw .malformed(path: path, reason: "libzmq cannot derive a public key from it") }
        return CurveKeyPair(publicKey: CurveKey.string(publicKey), secretKey: secret)
    }
}

/// Helpers for single Z85 keys: reading a public key file, fingerprints, raw bytes.
public enum CurveKey {
    /// Reads a public key file (`NAME.pub`).
    public static func load(publicKeyFile path: String) throws(KeyFileError) -> String {
        try readKey(path)
    }

    /// The 32 raw bytes a Z85 key encodes (what ZAP hands the handler as the peer's credentials).
    public static func bytes(_ z85: String) -> [UInt8]? {
        guard z85.utf8.count == 40 else { return nil }
        var raw = [UInt8](repeating: 0, count: 32)
        let decoded = z85.withCString { zmq_z85_decode(&raw, $0) }
        return decoded == nil ? nil : raw
    }

    /// The Z85 text of 32 raw key bytes.
    public static func z85(_ raw: [UInt8]) -> String? {
        guard raw.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, raw, 32) != nil else { return nil }
        return string(text)
    }

    /// A short, log-safe name for a public key: the first 16 hex digits of SHA-256 of its raw bytes,
    /// so operators can match a refused peer against `sha256sum`-style listings without logging keys.
    public static func fingerprint(raw: [UInt8]) -> String {
        String(SHA256.hexDigest(of: raw).prefix(16))
    }

    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Refuses a secret file (`what` names it in the error) whose mode lets group or others read or write it.
    static func checkOwnerOnly(_ path: String, holding what: String = "the secret key") throws(KeyFileError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw .io(path: path, reason: "cannot read \(what): \(String(cString: strerror(errno)))")
        }
        // Before the mode: `chmod 600` is the wrong advice for a directory given where the file belongs.
        guard status.st_mode & S_IFMT != S_IFDIR else { throw .io(path: path, reason: "is a directory; give the file holding \(what)") }
        guard UInt32(status.st_mode) & 0o077 == 0 else { throw .tooOpen(path: path, mode: UInt32(status.st_mode)) }
    }

    /// What ``readTokens(_:)`` reads of a file: keys and tokens are one short line, and a longer file is not read whole.
    static let readLimit = 256

    static func readKey(_ path: String) throws(KeyFileError) -> String {
        let tokens = try readTokens(path)
        let key = tokens.first ?? ""
        guard key.utf8.count == 40, bytes(key) != nil else {
            let hint = key.hasPrefix("ed25519-") ? " (this is a signing key, NAME.sign.key or NAME.sign.pub; pass NAME.key or NAME.pub)" : ""
            throw .malformed(path: path, reason: "expected one 40-character Z85 CURVE key\(hint)")
        }
        return key
    }

    /// The whitespace-separated words of a small key file (at most ``readLimit`` bytes are read).
    static func readTokens(_ path: String) throws(KeyFileError) -> [String] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: readLimit)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw .io(path: path, reason: "cannot read: \(String(cString: strerror(errno)))") }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self)
        return text.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == " " }).map(String.init)
    }

    static func create(_ path: String, contents: String, mode: mode_t) throws(KeyFileError) {
        // O_EXCL: never follow a planted symlink or overwrite; fchmod: the umask must not widen or narrow it.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode)
        guard fd >= 0 else {
            if errno == EEXIST { throw .alreadyExists(path: path) }
            throw .io(path: path, reason: "cannot create: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        fchmod(fd, mode)
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            unlink(path)
            throw .io(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}
