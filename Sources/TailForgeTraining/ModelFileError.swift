/// Problems with a model file itself (as opposed to the data it is applied to).
public enum ModelFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is HDF5 but was not written by `tailforge train` (no or another `format` attribute).
    case notATailForgeModel(path: String, format: String?)
    /// Written by a newer TailForge.
    case unsupportedVersion(path: String, version: Int64)
    /// The file claims to be a model but its contents are inconsistent.
    case corrupt(path: String, reason: String)
    /// The model was trained on embeddings of another width than the file it is applied to.
    case dimensionMismatch(model: String, modelDimension: Int, data: String, dataDimension: Int)
    /// The model records an input transformation this tailforge does not apply.
    case unsupportedInputNormalization(path: String, value: String)

    public var description: String {
        switch self {
        case .notATailForgeModel(let path, let format):
            let found = format.map { "its format attribute is '\($0)'" } ?? "it has no format attribute"
            return "\(path) is not a TailForge model (\(found)): pass a file written by `tailforge train`"
        case .unsupportedVersion(let path, let version):
            return "\(path) is a TailForge model of format version \(version), newer than this tailforge understands (\(SoftmaxModelFile.formatVersion)): upgrade tailforge"
        case .corrupt(let path, let reason):
            return "\(path) is a damaged TailForge model (\(reason)): train it again"
        case .dimensionMismatch(let model, let modelDimension, let data, let dataDimension):
            return "\(data) has embeddings of dimension \(dataDimension), but the model \(model) was trained on dimension "
                + "\(modelDimension): apply a model to embeddings from the same embedding model it was trained on"
        case .unsupportedInputNormalization(let path, let value):
            return "\(path) expects its inputs transformed as '\(value)', which this tailforge does not know: upgrade tailforge"
        }
    }
}
