/// Something that computes the summed softmax cross-entropy loss and gradient of its rows at given parameters.
///
/// The L-BFGS driver (through ``SoftmaxObjective``) sees the training data only through this protocol: the
/// local implementation is ``LocalGradientSource`` (shards on threads); the distributed trainer implements it
/// with remote workers. Implementations return plain sums (no normalisation, no L2 term); because
/// ``LossAndGradient`` adds exactly, partial results may be combined in any order without changing a bit.
///
/// A remote implementation matches the local one bit for bit when each worker evaluates its shards with a
/// ``LocalGradientSource`` built with the same `blockRows` and `firstGlobalRow` = the shard's first row in
/// the global shard order, and returns the ``LossAndGradient`` exactly (see
/// ``LossAndGradient/serialized()``); the trainer then adds the partials in any order.
public protocol GradientSource: Sendable {
    var classCount: Int { get }
    var dimension: Int { get }
    /// Total number of rows over all shards (the `N` the loss is averaged over).
    var rowCount: Int { get }
    func evaluate(_ parameters: ModelParameters) async throws -> LossAndGradient
}
