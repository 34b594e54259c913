import TailForgeTraining

/// What the coordinator saw while relaying a named trainer's final fit: for each evaluation, the SHA-256 of the
/// float32 weights it sent the workers and the exact loss sums the workers returned. With it the coordinator
/// checks the model the trainer reports instead of taking its word: the model's weights must be weights the
/// workers evaluated over this job's set, and its recorded `final_loss` the loss they computed there.
///
/// That shows the file is a point of this fit at the loss it claims; that it is L-BFGS's *last* point with these
/// settings is what `replay` (which retrains) proves.
struct NamedTrainerEvidence {
    struct Evaluation: Equatable {
        var weightsSHA256: String
        /// Shards whose reply has not been relayed yet.
        var pending: Set<Int>
        var lossSum = 0.0
        var rows = 0
    }

    /// By session and evaluation number.
    private(set) var evaluations: [String: [Int: Evaluation]] = [:]

    /// A gradient request the coordinator relayed to the workers (`weights`: its first payload frame).
    mutating func requested(session: String, iteration: Int, shards: [Int], weights: [UInt8]) {
        guard evaluations[session]?[iteration] == nil else { return }   // re-sent after a reopen: same weights
        evaluations[session, default: [:]][iteration] = Evaluation(weightsSHA256: FileDigest.sha256(of: weights), pending: Set(shards))
    }

    /// A shard's reply the coordinator relayed (a duplicate from a reassigned shard counts once).
    mutating func replied(session: String, iteration: Int, shard: Int, lossSum: Double, rows: Int) {
        guard var evaluation = evaluations[session]?[iteration], evaluation.pending.remove(shard) != nil else { return }
        evaluation.lossSum += lossSum
        evaluation.rows += rows
        evaluations[session]![iteration] = evaluation
    }

    /// Nil when `model` (recording `finalLoss`, trained with `l2` over `rows` rows) is a point the workers evaluated
    /// over all `rows` rows at that loss; otherwise why it is refused.
    ///
    /// The data term is exact (the workers evaluated these very float32 weights, and the sums are exact); the
    /// penalty is not — the optimiser takes it on float64 values the model does not keep — so the loss is compared
    /// within the penalty's float32 rounding (a relative 1e-6 of it, ten times the worst case) plus 1e-9 of the loss
    /// (the per-shard sums arrive as float64 each).
    func refusal(model: SoftmaxModel, finalLoss: Double, l2: Double, rows: Int) -> String? {
        let digest = FileDigest.sha256(of: WireMessage.float32Payload(model.weights + model.bias))
        let evaluated = evaluations.values.flatMap(\.values).filter { $0.weightsSHA256 == digest && $0.pending.isEmpty && $0.rows == rows }
        guard !evaluated.isEmpty else {
            return "its weights are none the workers evaluated over the job's \(rows) rows in its final fit"
        }
        let penalty = 0.5 * l2 * model.weights.reduce(0.0) { $0 + Double($1) * Double($1) }
        let tolerance = 1e-6 * penalty + 1e-9 * max(1, abs(finalLoss))
        let losses = evaluated.map { $0.lossSum / Double(rows) + penalty }
        guard losses.contains(where: { abs($0 - finalLoss) <= tolerance }) else {
            return "its recorded final_loss \(finalLoss) is not the loss the workers computed at its weights (\(losses[0]))"
        }
        return nil
    }
}
