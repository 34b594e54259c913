import ArgumentParser
import TailForgeNumerics

@main
struct TailForge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tailforge",
        abstract: "Balance long-tailed embedding datasets with vMF synthetic samples and train linear classifiers on them.",
        subcommands: [
            SynthCommand.self,
            BalanceCommand.self,
            TrainCommand.self,
            EvaluateCommand.self,
            PredictCommand.self,
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
        await main(nil)
    }
}
