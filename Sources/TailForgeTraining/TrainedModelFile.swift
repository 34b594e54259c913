import TailForgeNumerics
import TailForgeStorage

/// A model file of any type `tailforge train` writes, as `evaluate` and `predict` take it: the type is the file's
/// `format` attribute (``ModelType``), so neither command needs to be told.
public enum TrainedModelFile: Sendable {
    case softmax(SoftmaxModelFile.Loaded)
    case vmfMixture(VMFMixtureModelFile.Loaded)

    /// Reads whichever model type `path` holds; a file of neither type is refused as ``SoftmaxModelFile/read(path:)``
    /// refuses it.
    public static func read(path: String) throws -> TrainedModelFile {
        let format = try HDF5File.open(path: path).rootAttributes()["format"]?.stringValue
        switch format.flatMap(ModelType.init(format:)) {
        case .vmfMixture: return .vmfMixture(try VMFMixtureModelFile.read(path: path))
        case .softmax, nil: return .softmax(try SoftmaxModelFile.read(path: path))
        }
    }

    public var type: ModelType {
        switch self {
        case .softmax: .softmax
        case .vmfMixture: .vmfMixture
        }
    }

    public var classCount: Int {
        switch self {
        case .softmax(let loaded): loaded.model.classCount
        case .vmfMixture(let loaded): loaded.model.classCount
        }
    }

    public var dimension: Int {
        switch self {
        case .softmax(let loaded): loaded.model.dimension
        case .vmfMixture(let loaded): loaded.model.dimension
        }
    }

    public var classNames: [String]? {
        switch self {
        case .softmax(let loaded): loaded.classNames
        case .vmfMixture(let loaded): loaded.classNames
        }
    }

    /// The τ `evaluate` and `predict` apply: the stored one unless `applyCalibration` is false, nil when there is none.
    public func appliedTau(applyCalibration: Bool) -> Double? {
        guard applyCalibration else { return nil }
        switch self {
        case .softmax(let loaded): return loaded.calibration?.adjustment.tau
        case .vmfMixture(let loaded): return loaded.adjustment.tau
        }
    }

    /// The model as `evaluate` and `predict` apply it, with its logit adjustment unless `applyCalibration` is false.
    public func scorer(applyCalibration: Bool) throws -> any ClassScorer {
        switch self {
        case .softmax(let loaded): try loaded.model(applyCalibration: applyCalibration)
        case .vmfMixture(let loaded): AdjustedVMFMixture(model: loaded.model, adjustment: loaded.adjustment(applyCalibration: applyCalibration))
        }
    }
}

/// What `evaluate` and `predict` need of a model: each unit row's best class, and its k best with probabilities.
public protocol ClassScorer: Sendable {
    var classCount: Int { get }
    var dimension: Int { get }
    func predict(_ embeddings: Matrix, source: String) throws -> [Int32]
    func topK(_ embeddings: Matrix, k: Int, source: String) throws -> TopKPredictions
}

extension SoftmaxModel: ClassScorer {}

/// A vMF mixture with the logit adjustment it is applied with (nil: the raw log densities).
struct AdjustedVMFMixture: ClassScorer {
    var model: VMFMixtureModel
    var adjustment: LogitAdjustment?

    var classCount: Int { model.classCount }
    var dimension: Int { model.dimension }

    func predict(_ embeddings: Matrix, source: String) throws -> [Int32] {
        try model.predict(embeddings, adjustment: adjustment, source: source)
    }

    func topK(_ embeddings: Matrix, k: Int, source: String) throws -> TopKPredictions {
        try model.topK(embeddings, k: k, adjustment: adjustment, source: source)
    }
}
