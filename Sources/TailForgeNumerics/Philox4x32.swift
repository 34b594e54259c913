/// The counter-based generator Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
///
/// Output is a pure function of `(seed, stream, position)`: the engine keys one generator per class with
/// `(job seed, class id)`, so a class's draws do not depend on threads, scheduling or machine. The counter is
/// `(block low, block high, stream low, stream high)` and the key is `(seed low, seed high)`; block `n` yields
/// the 32-bit words `r0…r3`, returned by ``next()`` as `r0 | r1 << 32` then `r2 | r3 << 32`.
/// Four blocks are computed at once in SIMD lanes so the ten dependent rounds overlap.
public struct Philox4x32: RandomNumberGenerator, Sendable {
    @usableFromInline let key: SIMD2<UInt32>
    @usableFromInline let stream: UInt64
    /// Index of the next block to compute.
    @usableFromInline var nextBlock: UInt64
    @usableFromInline var buffer: SIMD8<UInt64>
    @usableFromInline var position: Int

    public init(seed: UInt64, stream: UInt64) {
        key = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        self.stream = stream
        nextBlock = 0
        buffer = .zero
        position = Self.bufferedWords
    }

    @usableFromInline static var bufferedWords: Int { 8 }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        if position == Self.bufferedWords { refill() }
        let value = buffer[position]
        position &+= 1
        return value
    }

    /// Computes the next four blocks (eight 64-bit outputs).
    @usableFromInline
    mutating func refill() {
        let mask = SIMD4<UInt64>(repeating: 0xFFFF_FFFF)
        let base = nextBlock
        let blocks = SIMD4<UInt64>(base, base &+ 1, base &+ 2, base &+ 3)
        var c0 = blocks & mask
        var c1 = blocks &>> 32
        var c2 = SIMD4<UInt64>(repeating: stream & 0xFFFF_FFFF)
        var c3 = SIMD4<UInt64>(repeating: stream >> 32)
        var k0 = UInt64(key.x), k1 = UInt64(key.y)
        let m0 = SIMD4<UInt64>(repeating: 0xD251_1F53), m1 = SIMD4<UInt64>(repeating: 0xCD9E_8D57)
        for round in 0..<10 {
            if round > 0 {
                k0 = (k0 &+ 0x9E37_79B9) & 0xFFFF_FFFF
                k1 = (k1 &+ 0xBB67_AE85) & 0xFFFF_FFFF
            }
            // 32×32→64 products; the operands are below 2^32 so a 64-bit lane multiply is exact.
            let p0 = m0 &* c0, p1 = m1 &* c2
            let n0 = (p1 &>> 32) ^ c1 ^ SIMD4(repeating: k0)
            let n2 = (p0 &>> 32) ^ c3 ^ SIMD4(repeating: k1)
            c1 = p1 & mask
            c3 = p0 & mask
            c0 = n0
            c2 = n2
        }
        let low = c0 | (c1 &<< 32), high = c2 | (c3 &<< 32)
        buffer = SIMD8(low[0], high[0], low[1], high[1], low[2], high[2], low[3], high[3])
        nextBlock = base &+ 4
        position = 0
    }

    /// The Philox4x32-10 bijection on one counter block, as specified by Random123 (reference for tests).
    static func bijection(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter, k = key
        for round in 0..<10 {
            if round > 0 { k &+= SIMD2(0x9E37_79B9, 0xBB67_AE85) }
            let p0 = UInt64(0xD251_1F53) * UInt64(c[0]), p1 = UInt64(0xCD9E_8D57) * UInt64(c[2])
            c = SIMD4(
                UInt32(truncatingIfNeeded: p1 >> 32) ^ c[1] ^ k[0], UInt32(truncatingIfNeeded: p1),
                UInt32(truncatingIfNeeded: p0 >> 32) ^ c[3] ^ k[1], UInt32(truncatingIfNeeded: p0))
        }
        return c
    }
}
