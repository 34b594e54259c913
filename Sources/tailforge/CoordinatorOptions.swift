import ArgumentParser
import TailForgeCluster

/// `--coordinator` plus the CURVE keys: everything a client command needs to reach a coordinator.
struct CoordinatorOptions: ParsableArguments {
    @Option(help: "The coordinator's endpoint.")
    var coordinator: String = "tcp://127.0.0.1:5555"

    @OptionGroup var keys: PeerKeyOptions

    func client() throws -> ClusterClient {
        try ClusterClient(coordinator: coordinator, security: try keys.security())
    }
}
