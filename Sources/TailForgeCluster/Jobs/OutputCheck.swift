import Foundation
import TailForgeStorage
#if canImport(Glibc)
import Glibc
#endif

/// The checks a job's paths pass at submit, on the coordinator (which reads the input and writes the output),
/// so a bad path fails in milliseconds instead of after every shard is computed, and no job replaces another's
/// output or resolved manifest by accident. Mostly about the output; the input only has to be a readable file.
public enum OutputCheck {
    /// A job that still owns its output (queued, running or gathering).
    public struct LiveJob: Sendable {
        public var job: String
        public var output: String
        public init(job: String, output: String) { self.job = job; self.output = output }
    }

    /// Refuses the manifest when its output's directory is missing or not writable, the output is a directory
    /// or the input file itself (same inode, however spelt), a live job writes the same output or resolved
    /// manifest, or the output or its resolved manifest exists and `overwrite` is not `true`.
    public static func check(_ manifest: JobManifest, against live: [LiveJob], source: String = "the submitted manifest") throws(ManifestError) {
        let input = manifest.input.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), !isDirectory.boolValue,
              FileManager.default.isReadableFile(atPath: input) else {
            let problem = !FileManager.default.fileExists(atPath: input) ? "does not exist on the coordinator"
                : isDirectory.boolValue ? "is a directory" : "cannot be read by the coordinator"
            throw ManifestError(source: source, key: "input.path", reason: "the input \(input) \(problem); `input.path` must be an HDF5 file the coordinator can read.")
        }
        let output = manifest.output
        func refuse(_ reason: String) -> ManifestError { ManifestError(source: source, key: "output", reason: reason) }
        do { try AtomicHDF5Writer.checkWritable(path: output, distinctFrom: [manifest.input.path]) } catch {
            let text = "\(error)"
            throw refuse("`output` cannot be used: " + text + (text.hasSuffix(".") ? "" : "."))
        }
        let resolved = ResolvedManifest.path(forOutput: output)
        let mine = [canonical(output), canonical(resolved)]
        for other in live {
            let theirs = [canonical(other.output), canonical(ResolvedManifest.path(forOutput: other.output))]
            if mine[0] == theirs[0] {
                throw refuse("job \(other.job) is already writing \(output); wait for it (`tailforge wait \(other.job)`), cancel it, or choose another output.")
            }
            if mine[1] == theirs[1] {
                throw refuse("job \(other.job) writes \(other.output), whose resolved manifest \(resolved) this job would replace; choose an output with another base name.")
            }
        }
        if let balanced = manifest.train?.balancedOutput {
            do { try AtomicHDF5Writer.checkWritable(path: balanced, distinctFrom: [manifest.input.path, output]) } catch {
                let text = "\(error)"
                throw ManifestError(source: source, key: "train.balanced_output", reason: "`train.balanced_output` cannot be used: " + text + (text.hasSuffix(".") ? "" : "."))
            }
            for other in live where canonical(other.output) == canonical(balanced) {
                throw ManifestError(source: source, key: "train.balanced_output", reason: "job \(other.job) is already writing \(balanced); choose another path.")
            }
        }
        if manifest.publishMode == .virtual, let balanced = manifest.balancedOutput {
            let shards = VirtualBalancedDataset.shardDirectory(forOutput: balanced)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: shards, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ManifestError(source: source, key: "publish", reason: "`publish: virtual` keeps the shard files in \(shards), which exists and is not a directory; move it away or choose another output.")
            }
        }
        guard manifest.overwrite != true else { return }
        for existing in [output, resolved] + [manifest.train?.balancedOutput].compactMap({ $0 }) where FileManager.default.fileExists(atPath: existing) {
            throw refuse("\(existing) exists; set `overwrite: true` in the manifest (or pass `--overwrite`) to replace the output and its resolved manifest, or choose another output.")
        }
    }

    /// The path with its directory's symbolic links and `..` resolved, so two spellings of one file compare equal.
    static func canonical(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let directory = url.deletingLastPathComponent().path
        guard let resolved = realpath(directory, nil) else { return url.path }
        defer { free(resolved) }
        return (String(cString: resolved) as NSString).appendingPathComponent(url.lastPathComponent)
    }
}
