#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `tailforge keygen --out DIR --name NAME` writes: the CURVE pair every socket uses (`NAME.key`, `NAME.pub`)
/// and, beside it, the Ed25519 pair a coordinator signs resolved manifests with (`NAME.sign.key`, `NAME.sign.pub`).
/// All four or none: an existing file of any of them is refused before anything is written.
public enum KeyGenerator {
    public struct Written: Sendable, Equatable {
        public var curveSecret: String
        public var curvePublic: String
        public var signingSecret: String
        public var signingPublic: String
    }

    @discardableResult
    public static func generate(directory: String, name: String) throws(KeyFileError) -> Written {
        let signing = SigningKeyPair.paths(directory: directory, name: name)
        for path in [directory + "/" + name + ".key", directory + "/" + name + ".pub", signing.secret, signing.public]
        where access(path, F_OK) == 0 {
            throw .alreadyExists(path: path)
        }
        let curve = try CurveKeyPair.generate().write(to: directory, name: name)
        do {
            try SigningKeyPair.generate().write(to: directory, name: name)
        } catch {
            unlink(curve.secret)
            unlink(curve.public)
            throw error
        }
        return Written(curveSecret: curve.secret, curvePublic: curve.public, signingSecret: signing.secret, signingPublic: signing.public)
    }
}
