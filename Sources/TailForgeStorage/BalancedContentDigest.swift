/// SHA-256 of each dataset of a balanced file's *content*: the dataset's elements in row order as little-endian
/// bytes — what h5py gives with `hashlib.sha256(f["embeddings"][:].tobytes()).hexdigest()`.
///
/// Unlike the file's SHA-256 it does not depend on HDF5's file layout (chunk size, chunk placement, metadata,
/// library version), so it says whether two outputs hold the same rows even when their bytes on disk differ,
/// and `BalancedDatasetWriter` computes it over the rows as they are handed to HDF5, with no second read.
/// Keys are dataset names (`datasetNames`); values are 64 lower-case hexadecimal digits.
public enum BalancedContentDigest {
    /// The datasets digested, in the order the writer creates them.
    public static let datasetNames = ["embeddings", "labels", "is_synthetic", "source_index", "kappa"]

    /// Whether `digests` names exactly the digested datasets, each with a well-formed digest; nil when it does,
    /// otherwise what is wrong.
    /// A compact file's digests name its own datasets (``BalancedLayout/rowDatasets``).
    public static func problem(in digests: [String: String]) -> String? {
        let datasetNames = digests.keys.contains(BalancedLayout.compact.rowDatasets.embeddings)
            ? BalancedLayout.compact.rowDatasets.all : Self.datasetNames
        let expected = Set(datasetNames)
        if let unknown = digests.keys.sorted().first(where: { !expected.contains($0) }) {
            return "names dataset `\(unknown)`; the content digests are of \(datasetNames.joined(separator: ", "))"
        }
        if let missing = datasetNames.first(where: { digests[$0] == nil }) {
            return "has no digest for dataset `\(missing)`"
        }
        for name in datasetNames {
            let value = digests[name]!
            guard value.count == 64, value.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                return "has `\(value)` for `\(name)`; it must be 64 lower-case hexadecimal digits"
            }
        }
        return nil
    }

    /// Reads a committed balanced file back and digests its datasets' content: a check of what the writer
    /// recorded, and a way to digest a file written before content digests existed. Reads the embeddings in
    /// blocks of `blockRows` rows, so memory stays bounded.
    public static func compute(ofFileAt path: String, blockRows: Int = 4096) throws(StorageError) -> [String: String] {
        let opened = try HDF5File.open(path: path)
        if BalancedLayout(attributes: try opened.rootAttributes()) == .compact {
            // Small: the real rows only.
            let names = BalancedLayout.compact.rowDatasets
            func digest<Element: HDF5Element & BitwiseCopyable>(_ name: String, _ type: Element.Type) throws(StorageError) -> String {
                var hasher = SHA256()
                try opened.openDataset(name).read(as: type).withUnsafeBufferPointer { hasher.update(elementsOf: $0) }
                return hasher.hexDigest()
            }
            return [names.embeddings: try digest(names.embeddings, Float.self), names.labels: try digest(names.labels, Int32.self),
                    names.sourceIndex: try digest(names.sourceIndex, Int64.self), names.kappa: try digest(names.kappa, Float.self)]
        }
        let file = try BalancedDatasetFile(path: path)
        var embeddings = SHA256()
        var start = 0
        let step = max(1, blockRows)
        while start < file.count {
            let rows = start..<min(file.count, start + step)
            try file.readEmbeddings(rows: rows).withUnsafeBufferPointer { embeddings.update(elementsOf: $0) }
            start = rows.upperBound
        }
        func digest<Element: BitwiseCopyable>(_ values: [Element]) -> String {
            var hasher = SHA256()
            values.withUnsafeBufferPointer { hasher.update(elementsOf: $0) }
            return hasher.hexDigest()
        }
        return [
            "embeddings": embeddings.hexDigest(),
            "labels": digest(try file.readLabels()),
            "is_synthetic": digest(try file.readIsSynthetic()),
            "source_index": digest(try file.readSourceIndex()),
            "kappa": digest(try file.readKappa()),
        ]
    }
}
