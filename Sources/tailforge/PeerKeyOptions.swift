import ArgumentParser
import Foundation
import TailForgeCluster

/// `--key` and `--coordinator-key`: the CURVE identity of a worker or client command.
struct PeerKeyOptions: ParsableArguments {
    @Option(help: "This peer's secret key file from `tailforge keygen` (default: $TAILFORGE_KEY).")
    var key: String?

    @Option(name: .customLong("coordinator-key"), help: "The coordinator's public key file, NAME.pub (default: $TAILFORGE_COORDINATOR_KEY).")
    var coordinatorKey: String?

    /// CURVE when both keys are named (flags or environment), plain text when neither is.
    func security() throws -> SocketSecurity {
        try SocketSecurity.client(keyFile: key, coordinatorKeyFile: coordinatorKey, environment: ProcessInfo.processInfo.environment)
    }
}
