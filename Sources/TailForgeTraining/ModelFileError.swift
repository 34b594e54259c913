/// Problems with a model file itself (as opposed to the data it is applied to).
public enum ModelFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is HDF5 but was not written by `tailforge train` (no or another `format` attribute).
    case notATailForgeModel(path: String, format: String?)
    /// Written by a newer TailForge.
    case unsupportedVersion(path: String, version: Int64)
    /// The file claims to be a model but its contents are inconsistent.
    case corrupt(path: String, reason: String)

    public var description: String {
        switch self {
        case .notATailForgeModel(let path, let format):
            let found = format.map { "its format attribute is '\($0)'" } ?? "it has no format attribute"
            return "\(path) is not a TailForge model (\(found)): pass a file written by `tailforge train`"
        case .unsupportedVersion(let path, let version):
            return "\(path) is a TailForge model of format version \(version), newer than this tailforge understands (\(SoftmaxModelFile.formatVersion)): upgrade tailforge"
        case .corrupt(let path, let reason):
            return "\(path) is a damaged TailForge model (\(reason)): train it again"
        }
    }
}
