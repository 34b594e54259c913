import ArgumentParser

@main
struct TailForge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tailforge",
        abstract: "Balance long-tailed embedding datasets with vMF synthetic samples and train linear classifiers on them.",
        subcommands: [
            SubmitCommand.self, StatusCommand.self, CancelCommand.self,
            TrainCommand.self, EvaluateCommand.self, PredictCommand.self,
        ]
    )
}
