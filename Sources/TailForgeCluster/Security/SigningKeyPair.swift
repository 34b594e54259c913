import Crypto
import Foundation

/// An Ed25519 keypair (swift-crypto) with which a coordinator signs the resolved manifests it writes, so
/// `tailforge replay --coordinator-signing-key` can tell a manifest the coordinator wrote from an edited or forged one.
///
/// On disk (`tailforge keygen`, beside the CURVE pair): `NAME.sign.key` (mode 0600) holds
/// `ed25519-secret-key BASE64` and `NAME.sign.pub` holds `ed25519-public-key BASE64`, each the key's 32 raw bytes.
/// The tag keeps the two kinds of key apart: a signing key passed as a CURVE key (or the reverse) is refused.
public struct SigningKeyPair: Sendable {
    static let secretTag = "ed25519-secret-key"
    static let publicTag = "ed25519-public-key"

    // The raw 32 bytes, not swift-crypto's key type, which is not `Sendable`; the key is rebuilt per use.
    private let seed: [UInt8]
    public let publicKey: SigningPublicKey

    private var privateKey: Curve25519.Signing.PrivateKey {
        // Checked in init: 32 bytes always make a key.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// A fresh keypair from the system's CSPRNG.
    public static func generate() -> SigningKeyPair { SigningKeyPair(seed: Array(Curve25519.Signing.PrivateKey().rawRepresentation))! }

    /// The keypair of a 32-byte seed (the private key's raw form); nil for another length.
    public init?(seed: [UInt8]) {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else { return nil }
        self.seed = seed
        publicKey = SigningPublicKey(key.publicKey)
    }

    /// An Ed25519 signature of `message` (64 bytes).
    public func signature(for message: [UInt8]) -> [UInt8] {
        // Signing with a valid key only fails if the system's random source does, which swift-crypto treats as fatal too.
        Array(try! privateKey.signature(for: message))
    }

    /// `NAME.sign.key` and `NAME.sign.pub` in `directory`.
    public static func paths(directory: String, name: String) -> (secret: String, public: String) {
        (directory + "/" + name + ".sign.key", directory + "/" + name + ".sign.pub")
    }

    /// Writes the pair into an existing `directory`; refuses to overwrite either file. Returns the two paths.
    @discardableResult
    public func write(to directory: String, name: String) throws(KeyFileError) -> (secret: String, public: String) {
        let (secretPath, publicPath) = Self.paths(directory: directory, name: name)
        try CurveKey.create(secretPath, contents: "\(Self.secretTag) \(Data(seed).base64EncodedString())\n", mode: 0o600)
        do {
            try CurveKey.create(publicPath, contents: "\(Self.publicTag) \(publicKey.base64)\n", mode: 0o644)
        } catch {
            unlink(secretPath)  // no half-written pair
            throw error
        }
        return (secretPath, publicPath)
    }

    /// The coordinator's signing key: `signingKeyFile` when given (it must load), else `NAME.sign.key` beside the
    /// CURVE key `NAME.key` when that file exists (what `keygen` writes), else nil.
    public static func forCoordinator(signingKeyFile: String?, curveKeyFile: String?) throws(KeyFileError) -> SigningKeyPair? {
        if let signingKeyFile { return try load(secretKeyFile: signingKeyFile) }
        guard let curveKeyFile, curveKeyFile.hasSuffix(".key") else { return nil }
        let sibling = String(curveKeyFile.dropLast(".key".count)) + ".sign.key"
        guard access(sibling, F_OK) == 0 else { return nil }
        return try load(secretKeyFile: sibling)
    }

    /// Reads a `NAME.sign.key` file, refusing one whose mode lets group or others read or write it.
    public static func load(secretKeyFile path: String) throws(KeyFileError) -> SigningKeyPair {
        // The kind first: a public or CURVE key passed here needs another file, not `chmod 600`.
        let raw = try SigningPublicKey.read(path, tag: secretTag, what: "an Ed25519 signing secret key (NAME.sign.key)")
        try CurveKey.checkOwnerOnly(path)
        guard let pair = SigningKeyPair(seed: raw) else {
            throw .malformed(path: path, reason: "expected an Ed25519 signing secret key (NAME.sign.key) of 32 bytes")
        }
        return pair
    }
}

/// The public half of a `SigningKeyPair`: what `replay` is given to check a resolved manifest's signature.
public struct SigningPublicKey: Sendable, Equatable {
    public let rawRepresentation: [UInt8]

    init(_ key: Curve25519.Signing.PublicKey) { rawRepresentation = Array(key.rawRepresentation) }

    /// The public key of 32 raw bytes; nil for another length.
    public init?(rawRepresentation: [UInt8]) {
        guard (try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)) != nil else { return nil }
        self.rawRepresentation = rawRepresentation
    }

    var base64: String { Data(rawRepresentation).base64EncodedString() }

    /// A short, log-safe name of the key, as for CURVE keys: the first 16 hex digits of SHA-256 of its raw bytes.
    public var fingerprint: String { CurveKey.fingerprint(raw: rawRepresentation) }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// Reads a `NAME.sign.pub` file.
    public static func load(publicKeyFile path: String) throws(KeyFileError) -> SigningPublicKey {
        let raw = try read(path, tag: SigningKeyPair.publicTag, what: "an Ed25519 signing public key (NAME.sign.pub)")
        guard let key = SigningPublicKey(rawRepresentation: raw) else {
            throw .malformed(path: path, reason: "expected an Ed25519 signing public key (NAME.sign.pub) of 32 bytes")
        }
        return key
    }

    /// The 32 raw bytes of a one-line `TAG BASE64` key file, with a hint when it holds a CURVE key instead.
    static func read(_ path: String, tag: String, what: String) throws(KeyFileError) -> [UInt8] {
        let tokens = try CurveKey.readTokens(path)
        guard tokens.count == 2, tokens[0] == tag, let raw = Data(base64Encoded: tokens[1]), raw.count == 32 else {
            let hint = tokens.count == 1 && tokens[0].utf8.count == 40
                ? "; it holds a CURVE key (NAME.key / NAME.pub), pass the NAME.sign.\(tag.contains("secret") ? "key" : "pub") file `tailforge keygen` wrote beside it"
                : ""
            throw .malformed(path: path, reason: "expected \(what): one line `\(tag) BASE64`\(hint)")
        }
        return Array(raw)
    }
}
