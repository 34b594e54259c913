import COpenBLAS
import Foundation
import TailForgeNumerics

/// A generative classifier of unit rows: each class is a mixture of von Mises–Fisher modes sharing one
/// within-mode concentration κ_c, with each mode's direction integrated out under its vMF posterior (natural
/// parameter θ_k), so a row's class density is the posterior predictive
///
///   log p(x | c) = logsumexp_k [log w_k + log C_d(κ_c) + log C_d(‖θ_k‖) − log C_d(‖θ_k + κ_c x‖)].
///
/// Logits are log p(x | c) − τ·log π_c (``LogitAdjustment``); top-k probabilities are their softmax.
/// ``VMFMixtureFitter`` builds one from labelled rows; ``VMFMixtureSelection`` also chooses its settings.
public struct VMFMixtureModel: Sendable, Equatable {
    public let classCount: Int
    public let dimension: Int
    /// `[classCount + 1]`: class c owns modes `modeOffsets[c] ..< modeOffsets[c + 1]`.
    public let modeOffsets: [Int]
    /// `[modeCount × dimension]`, row-major: each mode's natural parameter θ_k.
    public let modeParameters: [Double]
    /// `[modeCount]`: log w_k; each class's weights sum to 1.
    public let modeLogWeights: [Double]
    /// `[classCount]`: the within-mode concentration κ_c of each class.
    public let classKappa: [Double]

    let scoring: VMFMixtureScoring

    public var modeCount: Int { modeOffsets[classCount] }
    /// Modes per class.
    public var modesPerClass: [Int] { (0 ..< classCount).map { modeOffsets[$0 + 1] - modeOffsets[$0] } }

    /// Checks shapes and values: at least one class, dimension ≥ 2, offsets from 0 rising by at least one mode per
    /// class, finite parameters, each class's weights summing to 1 (within 1e-6), and positive finite κ.
    public init(classCount: Int, dimension: Int, modeOffsets: [Int], modeParameters: [Double], modeLogWeights: [Double],
                classKappa: [Double]) throws(TrainingError) {
        try self.init(classCount: classCount, dimension: dimension, modeOffsets: modeOffsets, modeParameters: modeParameters,
                      modeLogWeights: modeLogWeights, classKappa: classKappa, allowingEmptyClasses: false)
    }

    /// As the public initialiser; with `allowingEmptyClasses` a class may have no modes (it then scores −∞), as a
    /// cross-validation fit does for a class whose rows are all held out.
    init(classCount: Int, dimension: Int, modeOffsets: [Int], modeParameters: [Double], modeLogWeights: [Double],
         classKappa: [Double], allowingEmptyClasses: Bool) throws(TrainingError) {
        guard classCount >= 1 else { throw .invalidMixtureModel(what: "class count is \(classCount)", expected: "it needs at least one class") }
        guard dimension >= 2 else { throw .invalidMixtureModel(what: "dimension is \(dimension)", expected: "a vMF density needs at least 2") }
        guard modeOffsets.count == classCount + 1, modeOffsets.first == 0 else {
            throw .invalidMixtureModel(what: "mode offsets are \(modeOffsets.count) values starting at \(modeOffsets.first.map(String.init) ?? "nothing")",
                                       expected: "there must be \(classCount + 1) (one per class and one more) starting at 0")
        }
        for c in 0 ..< classCount {
            let modes = modeOffsets[c + 1] - modeOffsets[c]
            guard modes >= (allowingEmptyClasses ? 0 : 1) else {
                throw .invalidMixtureModel(what: "class \(c) has \(modes) modes (offsets \(modeOffsets[c]) to \(modeOffsets[c + 1]))",
                                           expected: "every class needs at least one")
            }
        }
        let modes = modeOffsets[classCount]
        guard modeParameters.count == modes * dimension else {
            throw .invalidMixtureModel(what: "mode parameters are \(modeParameters.count) values",
                                       expected: "\(modes) modes of dimension \(dimension) need \(modes * dimension)")
        }
        if let bad = modeParameters.firstIndex(where: { !$0.isFinite }) {
            throw .invalidMixtureModel(what: "mode \(bad / dimension) parameter \(bad % dimension) is \(modeParameters[bad])",
                                       expected: "parameters must be finite")
        }
        guard modeLogWeights.count == modes else {
            throw .invalidMixtureModel(what: "mode log weights are \(modeLogWeights.count) values", expected: "there must be one per mode (\(modes))")
        }
        for c in 0 ..< classCount where modeOffsets[c] < modeOffsets[c + 1] {
            let weights = modeLogWeights[modeOffsets[c] ..< modeOffsets[c + 1]]
            let total = weights.reduce(0) { $0 + Foundation.exp($1) }
            guard weights.allSatisfy({ $0.isFinite }), abs(total - 1) <= 1e-6 else {
                throw .invalidMixtureModel(what: "class \(c)'s mode log weights \(Array(weights)) give weights summing to \(total)",
                                           expected: "they must be finite and their weights sum to 1")
            }
        }
        guard classKappa.count == classCount else {
            throw .invalidMixtureModel(what: "class concentrations are \(classKappa.count) values", expected: "there must be one per class (\(classCount))")
        }
        if let bad = classKappa.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw .invalidMixtureModel(what: "class \(bad)'s concentration κ is \(classKappa[bad])", expected: "κ must be positive and finite")
        }
        self.classCount = classCount
        self.dimension = dimension
        self.modeOffsets = modeOffsets
        self.modeParameters = modeParameters
        self.modeLogWeights = modeLogWeights
        self.classKappa = classKappa
        var normSquared = [Double](repeating: 0, count: modes)
        for k in 0 ..< modes {
            var sum = 0.0
            for j in 0 ..< dimension { sum += modeParameters[k * dimension + j] * modeParameters[k * dimension + j] }
            normSquared[k] = sum
        }
        scoring = VMFMixtureScoring(modeOffsets: modeOffsets, modeNormSquared: normSquared, modeLogWeights: modeLogWeights,
                                    classKappa: classKappa, normalizer: VonMisesFisherLogNormalizer(dimension: dimension))
    }

    /// Equal parameters (the derived scoring tables follow from them).
    public static func == (a: VMFMixtureModel, b: VMFMixtureModel) -> Bool {
        a.classCount == b.classCount && a.dimension == b.dimension && a.modeOffsets == b.modeOffsets
            && a.modeParameters == b.modeParameters && a.modeLogWeights == b.modeLogWeights && a.classKappa == b.classKappa
    }

    /// Rows scored per GEMM and per parallel task.
    static let blockRows = 256
    /// Blocks scored at once: predict and top-k hold one chunk's scores (4096 rows × classCount) at a time, not the
    /// whole input's.
    static let chunkBlocks = 16

    /// log p(x | c) of each row, `[rows × classCount]` row-major. Rows are scaled to unit length first
    /// (``RowNormalization``, as every reader does), so any positive multiple of a row scores the same; a zero or
    /// non-finite row is an error naming its row in `source`. Blocks of rows run on up to `threads` threads;
    /// the result does not depend on how many.
    public func logDensities(_ embeddings: Matrix, source: String = "input",
                             threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws(TrainingError) -> [Double] {
        var out = [Double]()
        out.reserveCapacity(embeddings.rows * classCount)
        try forEachDensityBlock(embeddings, source: source, threads: threads) { _, densities in out += densities }
        return out
    }

    /// Calls `body` with each block's first row and log densities `[rows × classCount]`, in row order, scoring a
    /// chunk of blocks in parallel at a time. A bad row is reported before any later block is handed on, so the
    /// error is the first bad row in row order whichever thread found one first.
    private func forEachDensityBlock(_ embeddings: Matrix, source: String, threads: Int,
                                     _ body: (Int, [Double]) throws(TrainingError) -> Void) throws(TrainingError) {
        guard embeddings.columns == dimension else {
            throw .dimensionMismatch(shard: source, expected: dimension, found: embeddings.columns)
        }
        let rows = embeddings.rows
        let blocks = (rows + Self.blockRows - 1) / Self.blockRows
        for chunkStart in stride(from: 0, to: blocks, by: Self.chunkBlocks) {
            let count = min(Self.chunkBlocks, blocks - chunkStart)
            let results = ConcurrentResults<Result<[Double], TrainingError>>(count: count)
            ComputePool.forEach(count, width: threads) { [self] (index: Int) in
                let b = chunkStart + index
                let range = b * Self.blockRows ..< min(rows, (b + 1) * Self.blockRows)
                results.set(index, UnitRowBlock.doubles(embeddings, rows: range, source: source).map { scoreUnitRows($0, count: range.count) })
            }
            for (index, result) in results.values.enumerated() {
                try body((chunkStart + index) * Self.blockRows, try result!.get())
            }
        }
    }

    /// As ``forEachDensityBlock(_:source:threads:_:)`` with the adjusted logits as Float.
    private func forEachLogitBlock(_ embeddings: Matrix, adjustment: LogitAdjustment?, source: String, threads: Int,
                                   _ body: (Int, [Float]) throws(TrainingError) -> Void) throws(TrainingError) {
        var offsets = [Double](repeating: 0, count: classCount)
        if let adjustment {
            guard adjustment.prior.count == classCount else {
                throw .invalidSetting(name: "class prior", value: "\(adjustment.prior.count) classes",
                                      expected: "one value per model class (\(classCount))")
            }
            offsets = adjustment.prior.map { -adjustment.tau * Foundation.log($0) }
        }
        let classCount = classCount
        try forEachDensityBlock(embeddings, source: source, threads: threads) { (start, densities) throws(TrainingError) in
            try body(start, densities.indices.map { Float(densities[$0] + offsets[$0 % classCount]) })
        }
    }

    /// log p(x | c) of `count` unit rows (`[count × dimension]` Double).
    func scoreUnitRows(_ unit: [Double], count: Int) -> [Double] {
        var out = [Double](repeating: 0, count: count * classCount)
        guard count > 0 else { return out }
        let dots = modeDots(unit, count: count)
        var scratch = [Double](repeating: 0, count: max(modeCount, 1))
        dots.withUnsafeBufferPointer { z in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    scoring.logDensities(dots: z.baseAddress!, rows: count, into: o.baseAddress!, scratch: s)
                }
            }
        }
        return out
    }

    /// θ_k·x of `count` unit rows (`[count × dimension]` Double) with every mode, `[count × modeCount]`: one GEMM.
    func modeDots(_ unit: [Double], count: Int) -> [Double] {
        let modes = modeCount
        var dots = [Double](repeating: 0, count: count * modes)
        guard count > 0, modes > 0 else { return dots }
        unit.withUnsafeBufferPointer { x in
            modeParameters.withUnsafeBufferPointer { theta in
                dots.withUnsafeMutableBufferPointer { z in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(modes), Int32(dimension),
                                1, x.baseAddress, Int32(dimension), theta.baseAddress, Int32(dimension),
                                0, z.baseAddress, Int32(modes))
                }
            }
        }
        return dots
    }

    /// The class scores log p(x | c) − τ·log π_c of each row, `[rows × classCount]` row-major (no adjustment: τ = 0).
    public func logits(_ embeddings: Matrix, adjustment: LogitAdjustment?, source: String = "input",
                       threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws(TrainingError) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(embeddings.rows * classCount)
        try forEachLogitBlock(embeddings, adjustment: adjustment, source: source, threads: threads) { _, z in out += z }
        return out
    }

    /// The most probable class of each row under the adjusted logits (ties: lower class id).
    public func predict(_ embeddings: Matrix, adjustment: LogitAdjustment?, source: String = "input",
                        threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws(TrainingError) -> [Int32] {
        var labels = [Int32]()
        labels.reserveCapacity(embeddings.rows)
        let classCount = classCount
        try forEachLogitBlock(embeddings, adjustment: adjustment, source: source, threads: threads) { _, z in
            z.withUnsafeBufferPointer { all in
                for i in 0 ..< all.count / classCount {
                    labels.append(Int32(TopKSelection.argmax(UnsafeBufferPointer(rebasing: all[i * classCount ..< (i + 1) * classCount]))))
                }
            }
        }
        return labels
    }

    /// The `k` most probable classes of each row, most probable first (ties: lower class id), with the softmax
    /// probabilities of the adjusted logits. `k` is capped at the class count.
    public func topK(_ embeddings: Matrix, k requested: Int, adjustment: LogitAdjustment?, source: String = "input",
                     threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws(TrainingError) -> TopKPredictions {
        guard requested >= 1 else { throw .invalidSetting(name: "top-k", value: "\(requested)", expected: "at least 1") }
        let k = min(requested, classCount), classCount = classCount
        var labels = [Int32](repeating: 0, count: embeddings.rows * k)
        var probabilities = [Float](repeating: 0, count: embeddings.rows * k)
        var selection = TopKSelection(k: k)
        try forEachLogitBlock(embeddings, adjustment: adjustment, source: source, threads: threads) { start, z in
            z.withUnsafeBufferPointer { all in
                for i in 0 ..< all.count / classCount {
                    selection.select(UnsafeBufferPointer(rebasing: all[i * classCount ..< (i + 1) * classCount]),
                                     labels: &labels, probabilities: &probabilities, at: (start + i) * k)
                }
            }
        }
        return TopKPredictions(k: k, labels: labels, probabilities: probabilities)
    }
}
