/// Fits a ``SoftmaxModel`` by ``LBFGS`` on any ``GradientSource`` (local threads or remote workers).
public enum SoftmaxTrainer {
    /// The trained model with the optimiser's report and final state.
    public struct Result: Sendable {
        public var model: SoftmaxModel
        public var report: LBFGSReport
        public var state: LBFGSState
    }

    /// Minimises ``SoftmaxObjective`` from zero weights, from `checkpoint`, or from `warmStart` (see
    /// ``LBFGS/Start/warm(_:initialGradientNorm:)``) when given.
    /// `settings.classWeighting` is not applied here: it belongs to the source (see
    /// ``LocalGradientSource/init(shards:classCount:classWeights:threads:blockRows:firstGlobalRow:)``).
    public static func train(source: any GradientSource, settings: TrainingSettings, checkpoint: LBFGSState? = nil,
                             warmStart: LBFGS.Start? = nil,
                             onIteration: (LBFGSIteration, LBFGSState) async throws -> Void = { _, _ in }) async throws -> Result {
        precondition(checkpoint == nil || warmStart == nil, "SoftmaxTrainer.train: a checkpoint or a warm start, not both")
        let objective = try SoftmaxObjective(source: source, l2: settings.l2)
        let start: LBFGS.Start = checkpoint.map { .checkpoint($0) } ?? warmStart
            ?? .point([Double](repeating: 0, count: objective.parameterCount))
        let result = try await LBFGS(settings: settings.optimizer).minimize(objective, from: start, onIteration: onIteration)
        return Result(model: SoftmaxModel(parameters: objective.parameters(from: result.x)),
                      report: result.report, state: result.state)
    }

    /// Rows per class over `shards` (labels must already be in range).
    public static func classCounts(of shards: [TrainingShard], classCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for shard in shards { for label in shard.labels { counts[Int(label)] += 1 } }
        return counts
    }
}
