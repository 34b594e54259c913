import ArgumentParser
import TailForgeCluster

/// `tailforge cancel`: stops a job.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a job on a coordinator."
    )

    @Argument(help: "The job id (see `tailforge status`).")
    var job: String

    @Option(help: "The coordinator's endpoint.")
    var coordinator: String = "tcp://127.0.0.1:5555"

    @OptionGroup var keys: PeerKeyOptions

    func run() throws {
        let reply = try ClusterClient(coordinator: coordinator, security: try keys.security()).cancel(job: job)
        print(reply.message)
        if !reply.cancelled { throw ExitCode.failure }
    }
}
