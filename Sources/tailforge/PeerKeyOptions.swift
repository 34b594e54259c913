import ArgumentParser
import Foundation
import TailForgeCluster

/// `--key` and `--coordinator-key`: the CURVE identity of a worker or client command, or `--insecure` for a
/// coordinator started with `--insecure`. A client without keys already speaks plain text; the flag is accepted
/// everywhere because that is what an operator who started the coordinator with it types next.
struct PeerKeyOptions: ParsableArguments {
    @Option(help: "This peer's secret key file from `tailforge keygen` (default: $TAILFORGE_KEY).")
    var key: String?

    @Option(name: .customLong("coordinator-key"), help: "The coordinator's public key file, NAME.pub (default: $TAILFORGE_COORDINATOR_KEY).")
    var coordinatorKey: String?

    @Flag(help: "Connect in plain text without keys (only to a coordinator started with --insecure).")
    var insecure = false

    /// CURVE when both keys are named (flags or environment), plain text when neither is; `--insecure` with a key
    /// is refused rather than one of them silently ignored.
    func security() throws -> SocketSecurity {
        let security = try SocketSecurity.client(keyFile: key, coordinatorKeyFile: coordinatorKey, environment: ProcessInfo.processInfo.environment)
        if security.isSecure && insecure { throw CommandFailure("--insecure cannot be combined with --key/--coordinator-key (or TAILFORGE_KEY)") }
        return security
    }
}
