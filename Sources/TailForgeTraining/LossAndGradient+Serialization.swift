extension LossAndGradient {
    /// A compact exact encoding for sending a partial sum between processes: little-endian Int64 class count,
    /// dimension and rows, one ``Status-swift.enum`` byte (0 non-finite, 1 exact, 2 out of range), then the loss
    /// and every gradient entry as 16-byte little-endian two's-complement integers. Decoding gives back an
    /// equal value, so remote partials add exactly like local ones.
    public func serialized() -> [UInt8] {
        // One buffer written in place: 4.5 MB for Places-LT, sent once per shard per evaluation.
        let count = fixedPointGradient.count
        return [UInt8](unsafeUninitializedCapacity: 41 + 16 * count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: Int64(classCount).littleEndian, toByteOffset: 0, as: Int64.self)
            raw.storeBytes(of: Int64(dimension).littleEndian, toByteOffset: 8, as: Int64.self)
            raw.storeBytes(of: Int64(rows).littleEndian, toByteOffset: 16, as: Int64.self)
            raw.storeBytes(of: status.rawValue, toByteOffset: 24, as: UInt8.self)
            func store(_ value: Int128, at offset: Int) {
                let bits = UInt128(bitPattern: value)
                raw.storeBytes(of: UInt64(truncatingIfNeeded: bits).littleEndian, toByteOffset: offset, as: UInt64.self)
                raw.storeBytes(of: UInt64(truncatingIfNeeded: bits >> 64).littleEndian, toByteOffset: offset + 8, as: UInt64.self)
            }
            store(fixedPointLoss, at: 25)
            fixedPointGradient.withUnsafeBufferPointer { gradient in
                for i in 0 ..< count { store(gradient[i], at: 41 + 16 * i) }
            }
            initialized = 41 + 16 * count
        }
    }

    /// Decodes ``serialized()``; nil when the bytes are not a complete, consistent encoding.
    public init?(serialized bytes: [UInt8]) {
        guard bytes.count >= 25 + 16 else { return nil }
        let decoded: LossAndGradient? = bytes.withUnsafeBytes { raw in
            func int64(at offset: Int) -> Int64 { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self)) }
            func int128(at offset: Int) -> Int128 {
                let low = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                let high = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
                return Int128(bitPattern: UInt128(high) << 64 | UInt128(low))
            }
            let classCount = int64(at: 0), dimension = int64(at: 8), rows = int64(at: 16)
            guard classCount > 0, dimension > 0, rows >= 0, let status = Status(rawValue: raw[24]),
                  classCount <= Int64(Int32.max), dimension <= Int64(Int32.max) else { return nil }
            let count = Int(classCount) * (Int(dimension) + 1)
            // By division: 16 × count overflows Int for counts near 2⁶², which a forged header can claim (found by
            // fuzzing; a relayed reply from any worker reaches the trainer's decoder).
            guard (bytes.count - 41) % 16 == 0, (bytes.count - 41) / 16 == count else { return nil }
            let gradient = [Int128](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0 ..< count { buffer[i] = int128(at: 41 + 16 * i) }
                initialized = count
            }
            return LossAndGradient(classCount: Int(classCount), dimension: Int(dimension), rows: Int(rows), status: status,
                                   fixedPointLoss: int128(at: 25), fixedPointGradient: gradient)
        }
        guard let decoded else { return nil }
        self = decoded
    }
}
