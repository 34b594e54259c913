import ArgumentParser
import TailForgeNumerics
import TailForgeStorage

@main
struct TailForge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tailforge",
        abstract: "Balance long-tailed embedding datasets with vMF synthetic samples and train linear classifiers on them.",
        // The version every file records and workers compare with their coordinator's.
        version: ToolVersion.current,
        subcommands: [
            SynthCommand.self,
            BalanceCommand.self,
            MaterializeCommand.self,
            TrainCommand.self,
            EvaluateCommand.self,
            PredictCommand.self,
            AblateCommand.self,
            SubmitCommand.self,
            WaitCommand.self,
            StatusCommand.self,
            CancelCommand.self,
            CoordinatorCommand.self,
            WorkerCommand.self,
            ReplayCommand.self,
            DemoCommand.self,
            KeygenCommand.self,
        ]
    )

    static func main() async {
        BLASKernelSelection.reexecIfBeneficial()
        // Once, before any work: every parallel step runs on TailForge's own pool with BLAS single-threaded.
        BLAS.useOneThread()
        do {
            var command = try UnknownOptionFirst.parseAsRoot(Array(CommandLine.arguments.dropFirst()))
            // One-shot commands: Ctrl-C or SIGTERM removes every temporary output file and exits with 130/143.
            // The daemons instead stop gracefully (ServiceLifecycle) and finish what they are writing.
            if !(command is any DaemonCommand) { TemporaryFiles.removeOnInterrupt() }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as UnknownOptionFirst.UndeclaredOption {
            error.report()
        } catch {
            exit(withError: error)
        }
    }
}

/// A long-running daemon that handles SIGTERM and SIGINT itself. `SendableMetatype` rules out a main-actor
/// conformance, so `main` testing for it does not tie the parsed command to the main actor (which made handing it
/// to the nonisolated `run()` a data-race warning).
protocol DaemonCommand: SendableMetatype {}

extension CoordinatorCommand: DaemonCommand {}
extension WorkerCommand: DaemonCommand {
}
