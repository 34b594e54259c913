/// What the datasets of an embeddings file are called (`--embeddings-dataset`, `--labels-dataset`,
/// `--class-names-dataset`); every command that reads embeddings takes them.
public struct DatasetNames: Sendable, Equatable, Hashable, Codable {
    public var embeddings: String
    public var labels: String
    /// Optional; nil, or a name the file does not contain, means the file has no class names.
    public var classNames: String?

    public init(embeddings: String = "embeddings", labels: String = "labels", classNames: String? = "class_names") {
        self.embeddings = embeddings
        self.labels = labels
        self.classNames = classNames
    }

    /// The names the data contract uses when none are given.
    public static let standard = DatasetNames()
}
