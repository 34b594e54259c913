import ArgumentParser
import TailForgeTraining

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Write each embedding's most probable classes and their probabilities to an HDF5 file.")

    @Argument(help: "Model file written by tailforge train.")
    var model: String

    @Argument(help: "HDF5 file with /embeddings [N, d] (labels not needed).")
    var embeddings: String

    @Option(name: .shortAndLong, help: "Predictions HDF5 file to write (/labels, /top_k_labels, /top_k_probabilities).")
    var output: String

    @Option(help: "Number of most probable classes to keep per row.")
    var topK: Int = 5

    @Flag(help: "Predict with the raw logits, ignoring the logit adjustment stored by train --calibrate.")
    var noCalibration = false

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
    }

    func run() throws {
        let rows = try PredictionRunner(model: model, input: embeddings, output: output, k: topK, applyCalibration: !noCalibration).run()
        print("\(rows) rows predicted, written to \(output)")
    }
}
