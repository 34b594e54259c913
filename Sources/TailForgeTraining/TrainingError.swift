/// Everything the trainer refuses, each case naming what was wrong, where, and what to do about it.
///
/// `shard` is whatever holds the rows, as the user knows it: a file path, or a name such as "shard 3" for
/// data built in memory; messages print it as is, so a test file is never called a shard.
public enum TrainingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A shard has no rows.
    case emptyShard(shard: String)
    /// A shard's embedding width differs from the others' (or from the model's).
    case dimensionMismatch(shard: String, expected: Int, found: Int)
    /// A shard's label count differs from its embedding row count.
    case labelCountMismatch(shard: String, rows: Int, labels: Int)
    /// A label is negative or not below the class count.
    case labelOutOfRange(shard: String, row: Int, label: Int32, classCount: Int)
    /// An embedding value is NaN or infinite.
    case nonFiniteValue(shard: String, row: Int, column: Int)
    /// A sample weight is negative, NaN or infinite.
    case invalidSampleWeight(shard: String, row: Int, value: Float)
    /// A class weight is negative, NaN or infinite, or there are not one per class.
    case invalidClassWeights(String)
    /// No shards were given.
    case noShards
    /// A setting is outside its range.
    case invalidSetting(name: String, value: String, expected: String)
    /// A starting point or checkpoint does not fit the problem.
    case startMismatch(expected: Int, found: Int)
    /// The objective was not finite at the starting point.
    case nonFiniteStart(loss: Double)
    /// A block of rows' gradient is beyond the range the exact fixed-point sums can hold
    /// (``LossAndGradient/blockMagnitudeLimit``): the feature values or weights are far too large.
    case gradientOutOfRange(rows: Int)
    /// A row is all zeros, so it has no direction to score or fit.
    case zeroRow(shard: String, row: Int)
    /// A class has no training rows, so a model that describes each class by its rows cannot have it.
    case emptyClass(shard: String, classIndex: Int, classCount: Int)
    /// Every class has a single row, so no within-class concentration can be estimated.
    case singleRowClasses(classCount: Int)
    /// A cross-validation fold leaves every class at most one training row, so its fit has no within-class
    /// concentration to give them, although the rows as a whole do (every class has at most 2 rows, or 3 with 2 folds).
    case foldWithoutConcentration(fold: Int, folds: Int, largestClass: Int)
    /// A vMF mixture model's parameters are inconsistent (shapes, non-finite or out-of-range values).
    case invalidMixtureModel(what: String, expected: String)

    public var description: String {
        switch self {
        case .emptyShard(let shard):
            return "\(shard) has no rows: remove it from the inputs or regenerate it"
        case .dimensionMismatch(let shard, let expected, let found):
            return "\(shard) has embeddings of dimension \(found) but \(expected) was expected: every training file must come from the same embedding model"
        case .labelCountMismatch(let shard, let rows, let labels):
            return "\(shard) has \(rows) embedding rows but \(labels) labels: the data is inconsistent, regenerate it"
        case .labelOutOfRange(let shard, let row, let label, let classCount):
            return "\(shard) row \(row) has label \(label), outside the model's classes 0..<\(classCount): use data labelled for this model"
        case .nonFiniteValue(let shard, let row, let column):
            return "\(shard) row \(row) column \(column) is NaN or infinite: clean or regenerate the embeddings"
        case .invalidSampleWeight(let shard, let row, let value):
            return "\(shard) row \(row) has sample weight \(value): weights must be finite and non-negative"
        case .invalidClassWeights(let why):
            return "invalid class weights: \(why)"
        case .noShards:
            return "no training files were given: pass at least one balanced data file"
        case .invalidSetting(let name, let value, let expected):
            return "\(name) is \(value) but must be \(expected)"
        case .startMismatch(let expected, let found):
            return "the starting point or checkpoint has \(found) parameters but the problem has \(expected): it belongs to a different problem"
        case .nonFiniteStart(let loss):
            return "the loss at the starting point is \(loss): check the starting weights and the data"
        case .gradientOutOfRange(let rows):
            return "the gradient over \(rows) training rows is too large to sum exactly (a block of rows adds more than 2^55 ≈ 3.6e16 to one entry): "
                + "the embedding values or the sample/class weights are far too large; L2-normalise the embeddings (as balance does) or use smaller weights"
        case .zeroRow(let shard, let row):
            return "\(shard) row \(row) is all zeros and has no direction: remove it or fix the embedding"
        case .emptyClass(let shard, let classIndex, let classCount):
            return "\(shard) has no rows of class \(classIndex) (of 0..<\(classCount)): every class needs at least one training row; "
                + "add rows of that class or relabel the classes without gaps"
        case .singleRowClasses(let classCount):
            return "every class has a single distinct row (\(classCount) classes; exact duplicates count once), so no within-class "
                + "concentration can be estimated: give at least one class two or more distinct rows"
        case .foldWithoutConcentration(let fold, let folds, let largestClass):
            return "cross-validation fold \(fold + 1) of \(folds) leaves every class at most one training row (the largest class has "
                + "\(largestClass) distinct rows), so no within-class concentration can be estimated for its fit: give at least one class "
                + "3 or more distinct rows (4 or more with --folds 2)"
        case .invalidMixtureModel(let what, let expected):
            return "the vMF mixture model's \(what), but \(expected): the model is damaged or was built wrongly"
        }
    }
}
