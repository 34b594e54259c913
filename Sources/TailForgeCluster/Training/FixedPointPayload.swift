import TailForgeTraining

extension WireMessage {
    /// Little-endian two's-complement 128-bit integers: the exact wire form of `LossAndGradient`'s gradient.
    public static func int128Payload(_ values: [Int128]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * 16)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                let bits = UInt128(bitPattern: value)
                raw.storeBytes(of: UInt64(truncatingIfNeeded: bits).littleEndian, toByteOffset: index * 16, as: UInt64.self)
                raw.storeBytes(of: UInt64(truncatingIfNeeded: bits >> 64).littleEndian, toByteOffset: index * 16 + 8, as: UInt64.self)
            }
        }
        return bytes
    }

    /// Decodes an `int128Payload`; nil when its length is not a multiple of 16.
    public static func int128Values(_ bytes: [UInt8]) -> [Int128]? {
        guard bytes.count % 16 == 0 else { return nil }
        return bytes.withUnsafeBytes { raw in
            (0 ..< bytes.count / 16).map { index in
                let low = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 16, as: UInt64.self))
                let high = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 16 + 8, as: UInt64.self))
                return Int128(bitPattern: UInt128(high) << 64 | UInt128(low))
            }
        }
    }
}

extension GradientReply {
    /// The reply carrying `sums` (one shard's partial result) exactly.
    static func message(session: String, iteration: Int, shard: Int, sums: LossAndGradient, seconds: Double) -> WireMessage {
        let body = GradientReply(job: session, iteration: iteration, shard: shard, lossSum: sums.lossSum, rows: sums.rows,
                                 fixedPointLoss: String(sums.fixedPointLoss), isFinite: sums.isFinite, seconds: seconds)
        return WireMessage(body, payloads: [WireMessage.int128Payload(sums.fixedPointGradient)])
    }

    /// The exact partial sums of a reply, or nil when the payload or the fixed-point loss is malformed.
    func sums(payloads: [[UInt8]], classCount: Int, dimension: Int) -> LossAndGradient? {
        guard payloads.count == 1, let gradient = WireMessage.int128Values(payloads[0]),
              gradient.count == classCount * (dimension + 1),
              let text = fixedPointLoss, let loss = Int128(text), rows >= 0 else { return nil }
        return LossAndGradient(classCount: classCount, dimension: dimension, rows: rows, isFinite: isFinite ?? true,
                               fixedPointLoss: loss, fixedPointGradient: gradient)
    }
}
