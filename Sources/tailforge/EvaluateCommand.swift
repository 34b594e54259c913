import ArgumentParser
import Foundation
import TailForgeTraining

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a model on a labelled test file: top-1 accuracy overall, per class and per many/medium/few-shot group.")

    @Argument(help: "Model file written by tailforge train.")
    var model: String

    @Argument(help: "Labelled test HDF5 file (embeddings [N, d] and labels [N]; rows are scaled to unit length as in training).")
    var test: String

    @Option(help: "The long-tailed training file, for many (>100), medium (20–100) and few (<20) shot groups; a balanced file made from it gives the same groups (only its real rows count).")
    var train: String?

    @Option(help: "Also write the report as JSON to this file (never over the model, test or training file).")
    var json: String?

    @Flag(help: "Score with the raw logits, ignoring the logit adjustment stored by train --calibrate.")
    var noCalibration = false

    @OptionGroup var datasets: DatasetNameOptions

    func run() throws {
        let evaluation = try EvaluationRunner(model: model, test: test, training: train, names: datasets.names,
                                              applyCalibration: !noCalibration, jsonOutput: json).run()
        print(evaluation.table())
    }
}
