/// Building a peer's `SocketSecurity` from the key files its command line (or environment) names.
extension SocketSecurity {
    /// Environment variable standing in for `--key`.
    public static let keyVariable = "TAILFORGE_KEY"
    /// Environment variable standing in for `--coordinator-key`.
    public static let coordinatorKeyVariable = "TAILFORGE_COORDINATOR_KEY"

    /// A worker's or client's security: CURVE when a key and the coordinator's public key are named (flags
    /// first, then `TAILFORGE_KEY` / `TAILFORGE_COORDINATOR_KEY`), plain text when neither is; naming only
    /// one is an error, since half a configuration would silently fall back to plain text.
    public static func client(keyFile: String?, coordinatorKeyFile: String?,
                              environment: [String: String]) throws(KeyFileError) -> SocketSecurity {
        let key = keyFile ?? environment[keyVariable].flatMap { $0.isEmpty ? nil : $0 }
        let coordinatorKey = coordinatorKeyFile ?? environment[coordinatorKeyVariable].flatMap { $0.isEmpty ? nil : $0 }
        switch (key, coordinatorKey) {
        case (nil, nil):
            return .plaintext
        case (let key?, let coordinatorKey?):
            return .curveClient(try CurveKeyPair.load(secretKeyFile: key), serverPublicKey: try CurveKey.load(publicKeyFile: coordinatorKey))
        case (nil, _):
            throw .io(path: "--key", reason: "--coordinator-key was given without --key (or \(keyVariable)); CURVE needs both")
        case (_, nil):
            throw .io(path: "--coordinator-key", reason: "--key was given without --coordinator-key (or \(coordinatorKeyVariable)); CURVE needs both")
        }
    }
}
