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

    @OptionGroup var connection: CoordinatorOptions

    func run() throws {
        let reply = try connection.client().cancel(job: job)
        // A refusal (no such job, already finished) is an error like `wait`'s and `status`'s: on stderr, not stdout.
        guard reply.cancelled else { throw ClusterClientError.rejected(code: "not-cancelled", message: reply.message) }
        print(reply.message)
    }
}
