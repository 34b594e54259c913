import Foundation
import TailForgeStorage

/// The coordinator's confinement of a job's paths, checked at submit (and on resume) before anything is read:
/// the input, the output (and its resolved manifest) and the shared shard directory must resolve inside a
/// `--data-root`; none may lie in the coordinator's state directory (its journal, κ files, lock), and the output
/// may not be a resolved manifest (`*.manifest.json`: some job's record) or its manifest the input.
///
/// Refusals name the path as submitted and the roots, never the resolved path or whether the file exists, so a
/// client cannot use the coordinator to probe the filesystem outside the roots.
public enum DataRootCheck {
    public static func check(_ manifest: JobManifest, roots: DataRoots, stateDirectory: String,
                             source: String = "the submitted manifest") throws(ManifestError) {
        let state = DataRoots.resolve(URL(fileURLWithPath: stateDirectory).standardizedFileURL.path) ?? stateDirectory
        func confined(_ key: String, _ path: String) throws(ManifestError) -> String {
            guard path.hasPrefix("/") else {
                throw ManifestError(source: source, key: key, reason: "`\(key)` is the relative path \(path); the coordinator needs absolute paths (`tailforge submit` makes them absolute).")
            }
            guard let real = roots.confine(path) else {
                throw ManifestError(source: source, key: key, reason: "`\(key)` \(path) is outside the coordinator's data roots (\(roots.list)) once `..` and symbolic links are resolved; put the file under a data root or ask the operator to add one (`tailforge coordinator --data-root DIR`).")
            }
            if DataRoots.isInside(real, state) {
                throw ManifestError(source: source, key: key, reason: "`\(key)` \(path) is inside the coordinator's state directory, which holds its journal; choose a path outside it.")
            }
            return real
        }
        let input = try confined("input.path", manifest.input.path)
        let output = try confined("output", manifest.output)
        let resolvedManifest = try confined("output", ResolvedManifest.path(forOutput: manifest.output))
        if output.hasSuffix(".manifest.json") {
            throw ManifestError(source: source, key: "output", reason: "`output` \(manifest.output) is named like a job's resolved manifest (*.manifest.json); give the balanced output an .h5 name.")
        }
        if output == input || resolvedManifest == input {
            throw ManifestError(source: source, key: "output", reason: "`output` \(manifest.output) would overwrite the input \(manifest.input.path) (the output or its resolved manifest \(ResolvedManifest.path(forOutput: manifest.output))); choose another output.")
        }
        if let shared = manifest.transfer.sharedShardDirectory {
            _ = try confined("transfer.shared_shard_directory", shared)
        }
        if manifest.publishMode == .virtual, let balanced = manifest.balancedOutput {
            // The coordinator creates and links into this directory when it publishes.
            _ = try confined("publish", VirtualBalancedDataset.shardDirectory(forOutput: balanced))
        }
        if let balanced = manifest.train?.balancedOutput {
            let real = try confined("train.balanced_output", balanced)
            if real == input || real == output || real == resolvedManifest || real.hasSuffix(".manifest.json") {
                throw ManifestError(source: source, key: "train.balanced_output", reason: "`train.balanced_output` \(balanced) would overwrite the job's input, model or resolved manifest; choose another path.")
            }
        }
    }
}
