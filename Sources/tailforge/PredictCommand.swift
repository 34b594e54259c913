import ArgumentParser
import TailForgeTraining

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Write each embedding's most probable classes and their probabilities to an HDF5 file.")

    @Argument(help: "Model file written by tailforge train.")
    var model: String

    @Argument(help: "HDF5 file with embeddings [N, d] (labels not needed; rows are scaled to unit length as in training).")
    var embeddings: String

    @Option(name: .shortAndLong, help: "Predictions HDF5 file to write (/labels, /top_k_labels, /top_k_probabilities); never the model or the input.")
    var output: String

    @Option(help: "Number of most probable classes to keep per row (at most the class count is kept).")
    var topK: Int = 5

    @Flag(help: "Predict with the raw logits, ignoring the logit adjustment stored by train --calibrate.")
    var noCalibration = false

    @OptionGroup var datasets: DatasetNameOptions

    func validate() throws {
        try CommandLimits.check("top-k", topK, in: 1...Int.max)
    }

    func run() throws {
        let rows = try PredictionRunner(model: model, input: embeddings, output: output, k: topK,
                                        embeddingsDataset: datasets.embeddingsDataset, applyCalibration: !noCalibration).run()
        print("\(rows) rows predicted, written to \(output)")
    }
}
