import TailForgeTraining

extension GradientReply {
    /// The reply carrying `sums` (one shard's partial result) exactly.
    static func message(session: String, iteration: Int, shard: Int, sums: LossAndGradient, seconds: Double) -> WireMessage {
        let body = GradientReply(session: session, iteration: iteration, shard: shard, lossSum: sums.lossSum, rows: sums.rows,
                                 seconds: seconds)
        return WireMessage(body, payloads: [sums.serialized()])
    }

    /// The exact partial sums of a reply, or nil when the payload is not a complete encoding of that shape.
    func sums(payloads: [[UInt8]], classCount: Int, dimension: Int) -> LossAndGradient? {
        guard payloads.count == 1, let sums = LossAndGradient(serialized: payloads[0]),
              sums.classCount == classCount, sums.dimension == dimension, sums.rows == rows else { return nil }
        return sums
    }
}
