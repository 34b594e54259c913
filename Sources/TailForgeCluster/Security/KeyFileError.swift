/// Why a CURVE or signing key file could not be written or read; each case names the file and what to do.
public enum KeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `keygen` would overwrite an existing key (which would lock out every peer that trusts it).
    case alreadyExists(path: String)
    /// A secret key file others may read or write: refused, since the key may already have leaked.
    case tooOpen(path: String, mode: UInt32)
    /// The file does not hold the key it should (one 40-character Z85 CURVE key, or a tagged Ed25519 signing key).
    case malformed(path: String, reason: String)
    /// A filesystem or libzmq call failed.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .alreadyExists(let path):
            return "\(path) already exists; keygen never overwrites a key (remove it first, or choose another --name)"
        case .tooOpen(let path, let mode):
            return "secret key \(path) has mode \(String(mode & 0o777, radix: 8)), readable or writable by others; "
                + "run `chmod 600 \(path)` (and consider the key leaked if others could read it)"
        case .malformed(let path, let reason):
            return "\(path) is not a usable TailForge key: \(reason) (keys are written by `tailforge keygen`)"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}
