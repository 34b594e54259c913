import Foundation
import TailForgeNumerics

/// The keys a job manifest may hold, section by section: the loader refuses any other key, suggests the
/// nearest one, and the tests check `jobs/manifest.schema.json` and the wire encoding against this table.
///
/// Every key is snake_case. The camelCase spellings of earlier releases (`maxAttempts`, `shardTimeoutSeconds`,
/// `streamInput`, `sharedShardDirectory`, `classNames`) are refused in manifest files with the new name
/// suggested; journals and resolved manifests written with them still read (see `LegacyKeyedContainer`).
public enum ManifestKeys {
    /// The top-level keys; the sections among them hold the keys of `sections`.
    public static let topLevel = ["name", "input", "output", "overwrite", "layout", "publish", "verify", "policy", "sharding", "transfer", "train"]

    /// A top-level key the loader ignores: a JSON manifest names its schema with it (`"$schema":
    /// "manifest.schema.json"`), as YAML manifests do in a `yaml-language-server` comment.
    public static let schemaReference = "$schema"

    /// The keys of each section.
    public static let sections: [String: [String]] = [
        "input": ["path", "sha256", "embeddings", "labels", "class_names", "classes"],
        "policy": ["target", "kappa", "sampler", "seed", "kappa_min", "kappa_max", "smote_k", "subsample", "drift_guard", "drift_threshold", "drift_retries"],
        "sharding": ["shards", "max_attempts", "shard_timeout_seconds"],
        "transfer": ["stream_input", "shared_shard_directory"],
        "train": ["l2", "max_iterations", "tolerance", "loss_tolerance", "class_weight", "balanced_output", "calibrate", "calibration_holdout",
                  "calibration_seed", "l2_grid", "trainer"],
    ]

    /// `tailforge train`'s flag spellings, which users carry over into a `train:` section.
    static let flagSpellings: [String: String] = [
        "max_iter": "max_iterations", "tol": "tolerance", "loss_tol": "loss_tolerance", "class_weights": "class_weight",
        "gradient_tolerance": "tolerance",
    ]

    /// The keys allowed at `section` (`""` for the top level).
    public static func keys(in section: String) -> [String] {
        section.isEmpty ? topLevel : sections[section] ?? []
    }

    /// The suggestion for an unknown `key` in `section`: the same key in snake_case, a key of that section
    /// within a small edit distance, or the section the key belongs to. Nil when nothing is close.
    public static func suggestion(for key: String, in section: String) -> String? {
        let allowed = keys(in: section)
        if section == "train", let key = flagSpellings[key.replacingOccurrences(of: "-", with: "_")] {
            return "did you mean `\(key)`? (`train:` spells `tailforge train`'s flags out in full)"
        }
        func folded(_ s: String) -> String { s.lowercased().filter { $0 != "_" && $0 != "-" } }
        if let same = allowed.first(where: { folded($0) == folded(key) }) {
            return "did you mean `\(same)`? Manifest keys are snake_case"
        }
        let scored = allowed.map { ($0, editDistance(key.lowercased(), $0)) }.min { $0.1 < $1.1 }
        if let (best, distance) = scored, distance <= max(1, min(3, best.count / 3)) {
            return "did you mean `\(best)`?"
        }
        let elsewhere = ([""] + sections.keys.sorted()).filter { $0 != section && keys(in: $0).contains { folded($0) == folded(key) } }
        if let home = elsewhere.first {
            return home.isEmpty ? "`\(key)` belongs at the top level of the manifest" : "`\(key)` belongs in the `\(home):` section"
        }
        return nil
    }

    /// `Spelling.distance`, under the name the CLI's word-valued flags used first (`--l2 atuo`).
    public static func editDistance(_ a: String, _ b: String) -> Int { Spelling.distance(a, b) }
}
