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
        print(reply.message)
        if !reply.cancelled { throw ExitCode.failure }
    }
}
