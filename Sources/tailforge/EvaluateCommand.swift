import ArgumentParser
import Foundation
import TailForgeTraining

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a model on a labelled test file: top-1 accuracy overall, per class and per many/medium/few-shot group.")

    @Argument(help: "Model file written by tailforge train.")
    var model: String

    @Argument(help: "Labelled test HDF5 file (/embeddings [N, d], /labels [N]).")
    var test: String

    @Option(help: "The original long-tailed training file, for many (>100), medium (20–100) and few (<20) shot groups.")
    var train: String?

    @Option(help: "Also write the report as JSON to this file.")
    var json: String?

    @Flag(help: "Score with the raw logits, ignoring the logit adjustment stored by train --calibrate.")
    var noCalibration = false

    func run() throws {
        let evaluation = try EvaluationRunner(model: model, test: test, training: train, applyCalibration: !noCalibration).run()
        print(evaluation.table())
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(evaluation).write(to: URL(fileURLWithPath: json), options: .atomic)
        }
    }
}
