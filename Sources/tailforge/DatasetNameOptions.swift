import ArgumentParser
import TailForgeStorage

/// How the datasets of an embeddings file are named: shared by every command that reads embeddings, so an
/// error's "pass the right name with the dataset-name option" holds everywhere.
struct DatasetNameOptions: ParsableArguments {
    @Option(name: .customLong("embeddings-dataset"), help: "Dataset holding the [N, d] embeddings.")
    var embeddingsDataset = DatasetNames.standard.embeddings

    @Option(name: .customLong("labels-dataset"), help: "Dataset holding the [N] integer labels (where labels are read).")
    var labelsDataset = DatasetNames.standard.labels

    @Option(name: .customLong("class-names-dataset"), help: "Optional dataset of class names; its length fixes the class count.")
    var classNamesDataset = DatasetNames.standard.classNames ?? "class_names"

    func validate() throws {
        guard !embeddingsDataset.isEmpty else { throw ValidationError("--embeddings-dataset must not be empty") }
        guard !labelsDataset.isEmpty else { throw ValidationError("--labels-dataset must not be empty") }
    }

    var names: DatasetNames {
        DatasetNames(embeddings: embeddingsDataset, labels: labelsDataset, classNames: classNamesDataset.isEmpty ? nil : classNamesDataset)
    }
}
