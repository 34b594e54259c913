/// How a cluster socket authenticates and encrypts: ZeroMQ CURVE, or plain text with an explicit `--insecure`.
public enum SocketSecurity: Sendable, Equatable {
    /// No authentication, no encryption: only for a trusted network, chosen with `--insecure`.
    case plaintext
    /// The coordinator's ROUTER: its own keypair; peers are checked by the `ZAPHandler`.
    case curveServer(CurveKeyPair)
    /// A worker, client or trainer: its own keypair and the coordinator's public key (Z85), which CURVE
    /// uses to prove it reached the real coordinator.
    case curveClient(CurveKeyPair, serverPublicKey: String)

    public var isSecure: Bool { self != .plaintext }
}
