/// The identity of a balanced set, the same for its full and compact layouts: SHA-256 over its recipe (every
/// root attribute that decides the rows — format, tool version, input SHA-256, settings, seed, plan totals)
/// and the content digests of its real rows. Recorded as the root attribute `balanced_sha256`.
///
/// A model records it instead of the training file's SHA-256 (`train` reads it from the attributes, no second
/// read of a 5.6 GB file), so a model trained from a compact file and one trained from its full counterpart are
/// byte-identical. Synthetic rows are a pure function of the recipe and the real rows, so they are named by it;
/// a full file's synthetic rows on disk are checked by its per-dataset content digests, not by this.
public enum BalancedSetIdentity {
    public static let attributeName = "balanced_sha256"

    /// Attributes that describe a file rather than the set, left out of the recipe.
    public static let fileAttributes: Set<String> = [
        attributeName, BalancedLayout.attributeName, "synthetic_probe_class", "synthetic_probe_sha256", "real_kappa_sha256",
        "full_chunk_rows",
    ]

    /// The digests of the real rows' embeddings, labels and source indices (in output order) that the identity
    /// covers; keys `embeddings`, `labels`, `source_index`.
    public static let realContentKeys = ["embeddings", "labels", "source_index"]

    /// The identity of the set with root attributes `attributes` (file attributes are ignored) and real-row
    /// content digests `realContent`.
    public static func digest(attributes: [String: AttributeValue], realContent: [String: String]) -> String {
        var text = "tailforge-balanced-set-v1\n"
        for name in attributes.keys.sorted() where !fileAttributes.contains(name) {
            // Doubles by bit pattern, so the text is exact whatever the printing of floating-point numbers.
            let value = switch attributes[name]! {
            case .string(let s): "s:" + s.unicodeScalars.map { $0 == "\n" ? "\\n" : String($0) }.joined()
            case .int(let i): "i:\(i)"
            case .double(let d): "d:" + String(d.bitPattern, radix: 16)
            }
            text += "\(name)\t\(value)\n"
        }
        for key in realContentKeys { text += "real_\(key)\t\(realContent[key] ?? "-")\n" }
        return SHA256.hexDigest(of: Array(text.utf8))
    }
}
