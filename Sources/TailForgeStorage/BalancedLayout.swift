import TailForgeNumerics

/// How a balanced file stores its rows.
///
/// - `full`: every row, real and synthetic (`/embeddings`, `/labels`, `/is_synthetic`, `/source_index`,
///   `/kappa`); what h5py and scikit-learn users read directly.
/// - `compact`: only the real rows (`/real_embeddings`, `/real_labels`, `/real_source_index`), each real row's κ
///   (`/real_kappa`) and each class's input row count (`/class_input_rows`), plus the settings and seed. Every
///   synthetic row is a pure function of those (per-class random streams), so TailForge regenerates them
///   bit-exactly when it reads the file; the real part is a few per cent of the full file's bytes. The datasets
///   are named differently on purpose: a reader that does not know the compact layout fails on the missing
///   `/embeddings` instead of silently training on the real rows alone.
///
/// Recorded as the root attribute `layout`.
public enum BalancedLayout: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case full
    case compact

    /// The root attribute that records the layout.
    public static let attributeName = "layout"

    public var description: String { rawValue }

    /// Parses `full` or `compact`, saying what is allowed otherwise.
    public init(parsing text: String) throws(StorageError) {
        guard let layout = BalancedLayout(rawValue: text) else {
            let names = BalancedLayout.allCases.map(\.rawValue)
            throw .invalidArgument("layout '\(text)': expected one of \(names.joined(separator: ", "))" + Spelling.hint(for: text, among: names))
        }
        self = layout
    }

    /// The layout a file's root attributes record; files written before layouts existed are full.
    public init(attributes: [String: AttributeValue]) {
        self = attributes[Self.attributeName]?.stringValue.flatMap(BalancedLayout.init(rawValue:)) ?? .full
    }

    /// The names of the per-row datasets, in the order the writer creates them.
    public var rowDatasets: RowDatasets {
        switch self {
        case .full:
            RowDatasets(embeddings: "embeddings", labels: "labels", isSynthetic: "is_synthetic", sourceIndex: "source_index", kappa: "kappa")
        case .compact:
            RowDatasets(embeddings: "real_embeddings", labels: "real_labels", isSynthetic: nil, sourceIndex: "real_source_index", kappa: "real_kappa")
        }
    }

    /// The per-row dataset names of one layout; a compact file has no `is_synthetic` (every row is real).
    public struct RowDatasets: Sendable, Equatable {
        public var embeddings: String
        public var labels: String
        public var isSynthetic: String?
        public var sourceIndex: String
        public var kappa: String

        /// Every name, in creation order.
        public var all: [String] { [embeddings, labels] + (isSynthetic.map { [$0] } ?? []) + [sourceIndex, kappa] }
    }

    /// The compact layout's dataset of input rows per class (int64 `[C]`): what re-plans the synthetic rows.
    public static let classInputRowsDataset = "class_input_rows"
}
