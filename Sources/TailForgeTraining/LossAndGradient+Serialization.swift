extension LossAndGradient {
    /// A compact exact encoding for sending a partial sum between processes: little-endian Int64 class count,
    /// dimension and rows, one byte `isFinite`, then the loss and every gradient entry as 16-byte
    /// little-endian two's-complement integers. Decoding gives back an equal value, so remote partials add
    /// exactly like local ones.
    public func serialized() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(25 + 16 * (fixedPointGradient.count + 1))
        for v in [Int64(classCount), Int64(dimension), Int64(rows)] { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
        bytes.append(isFinite ? 1 : 0)
        bytes += withUnsafeBytes(of: fixedPointLoss.littleEndian, Array.init)
        for v in fixedPointGradient { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
        return bytes
    }

    /// Decodes ``serialized()``; nil when the bytes are not a complete, consistent encoding.
    public init?(serialized bytes: [UInt8]) {
        guard bytes.count >= 25 + 16 else { return nil }
        func int64(at offset: Int) -> Int64 {
            bytes[offset ..< offset + 8].reversed().reduce(Int64(0)) { $0 << 8 | Int64($1) }
        }
        func int128(at offset: Int) -> Int128 {
            bytes[offset ..< offset + 16].reversed().reduce(Int128(0)) { $0 << 8 | Int128($1) }
        }
        let classCount = int64(at: 0), dimension = int64(at: 8), rows = int64(at: 16)
        guard classCount > 0, dimension > 0, rows >= 0, bytes[24] <= 1,
              classCount <= Int64(Int32.max), dimension <= Int64(Int32.max) else { return nil }
        let count = Int(classCount) * (Int(dimension) + 1)
        guard bytes.count == 25 + 16 * (count + 1) else { return nil }
        self.init(classCount: Int(classCount), dimension: Int(dimension), rows: Int(rows), isFinite: bytes[24] == 1,
                  fixedPointLoss: int128(at: 25), fixedPointGradient: (0 ..< count).map { int128(at: 41 + 16 * $0) })
    }
}
