import TailForgeStorage

/// Problems with a model file itself (as opposed to the data it is applied to).
public enum ModelFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is HDF5 but was not written by `tailforge train` (no or another `format` attribute).
    case notATailForgeModel(path: String, format: String?)
    /// A TailForge model of another type than the reader takes (a softmax model given where a vMF mixture is
    /// read, or the other way round).
    case wrongModelType(path: String, found: ModelType, expected: ModelType)
    /// Written by a newer TailForge; `supported` is the newest version this one reads.
    case unsupportedVersion(path: String, version: Int64, supported: Int64)
    /// The file claims to be a model but its contents are inconsistent.
    case corrupt(path: String, reason: String)
    /// The model was trained on embeddings of another width than the file it is applied to.
    case dimensionMismatch(model: String, modelDimension: Int, data: String, dataDimension: Int)
    /// The training file given for the shot groups (`evaluate --train`) has another number of classes than the model
    /// (its /class_names, or its largest real label + 1): it is not the file the model was trained on.
    case classCountMismatch(model: String, modelClasses: Int, training: String, trainingClasses: Int)
    /// The model records an input transformation this tailforge does not apply.
    case unsupportedInputNormalization(path: String, value: String)

    public var description: String {
        switch self {
        case .notATailForgeModel(let path, let format):
            let found = format.map { "its format attribute is '\($0)'" } ?? "it has no format attribute"
            return "\(path) is not a TailForge model (\(found)): pass a file written by `tailforge train`"
        case .wrongModelType(let path, let found, let expected):
            return "\(path) is a TailForge \(found.title) model (`train --classifier \(found.rawValue)`), not a \(expected.title) model: "
                + "pass a model written by `train --classifier \(expected.rawValue)`, or read it with a command that takes either (evaluate, predict)"
        case .unsupportedVersion(let path, let version, let supported):
            return "\(path) is a TailForge model of format version \(version), newer than this tailforge understands (\(supported)): upgrade tailforge"
        case .corrupt(let path, let reason):
            return "\(path) is a damaged TailForge model (\(reason)): train it again"
        case .dimensionMismatch(let model, let modelDimension, let data, let dataDimension):
            return "\(data) has embeddings of dimension \(dataDimension), but the model \(model) was trained on dimension "
                + "\(modelDimension): apply a model to embeddings from the same embedding model it was trained on"
        case .classCountMismatch(let model, let modelClasses, let training, let trainingClasses):
            return "the training file \(training) has \(trainingClasses) classes, but the model \(model) has \(modelClasses): "
                + "pass with --train the training file the model was trained on (the shot groups count its rows per class)"
        case .unsupportedInputNormalization(let path, let value):
            return "\(path) expects its inputs transformed as '\(value)', which this tailforge does not know: upgrade tailforge"
        }
    }

    /// The file's format version, after checking that `attributes` (the file's root attributes) are those of a
    /// model of type `expected`: another TailForge model type and a foreign file are told apart.
    static func checkFormat(_ attributes: [String: AttributeValue], path: String, expected: ModelType) throws(ModelFileError) -> Int64 {
        let format = attributes["format"]?.stringValue
        guard format == expected.format else {
            if let found = format.flatMap(ModelType.init(format:)) {
                throw .wrongModelType(path: path, found: found, expected: expected)
            }
            throw .notATailForgeModel(path: path, format: attributes["format"].map { $0.stringValue ?? "\($0)" })
        }
        guard let version = attributes["format_version"]?.intValue else {
            throw .corrupt(path: path, reason: "no format_version attribute")
        }
        return version
    }
}
