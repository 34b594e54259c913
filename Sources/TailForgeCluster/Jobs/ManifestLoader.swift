import Foundation
import Yams

/// A manifest file that could not be used.
public struct ManifestError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "manifest \(path): \(reason)" }
}

/// Reads job manifests (YAML, or JSON, which YAML parses too) and resolves relative paths against the
/// manifest's directory, so `jobs/demo.yaml` works from any working directory.
public enum ManifestLoader {
    public static func load(path: String) throws(ManifestError) -> JobManifest {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ManifestError(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        var manifest: JobManifest
        do {
            manifest = try YAMLDecoder().decode(JobManifest.self, from: text)
        } catch {
            throw ManifestError(path: path, reason: "is not a valid job manifest: \(error)")
        }
        let base = (URL(fileURLWithPath: path).standardizedFileURL.path as NSString).deletingLastPathComponent
        func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : (base as NSString).appendingPathComponent(p) }
        manifest.input.path = absolute(manifest.input.path)
        manifest.output = absolute(manifest.output)
        if let shared = manifest.transfer.sharedShardDirectory { manifest.transfer.sharedShardDirectory = absolute(shared) }
        return manifest
    }
}
