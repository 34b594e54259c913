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

    /// Writes the next `count` outputs to `words`: the same values, in the same order, as `count` calls of
    /// ``next()``, but whole groups of four blocks go straight to the destination.
    @inlinable
    public mutating func fill(_ words: UnsafeMutableBufferPointer<UInt64>) {
        guard let base = words.baseAddress else { return }
        fill(base, count: words.count)
    }

    @inlinable
    mutating func fill(_ words: UnsafeMutablePointer<UInt64>, count: Int) {
        var i = 0
        while i < count && position < Self.bufferedWords {
            words[i] = buffer[position]
            position &+= 1
            i &+= 1
        }
        while count - i >= Self.bufferedWords {
            Self.generate(firstBlock: nextBlock, key: key, stream: stream, into: words + i)
            nextBlock &+= 4
            i &+= Self.bufferedWords
        }
        while i < count {
            words[i] = next()
            i &+= 1
        }
    }

    /// Computes the next four blocks (eight 64-bit outputs) into the buffer.
    @usableFromInline
    mutating func refill() {
        let (key, stream, first) = (key, stream, nextBlock)
        withUnsafeMutableBytes(of: &buffer) { raw in
            Self.generate(firstBlock: first, key: key, stream: stream, into: raw.baseAddress!.assumingMemoryBound(to: UInt64.self))
        }
        nextBlock = first &+ 4
        position = 0
    }

    /// Blocks `firstBlock ..< firstBlock + 4` as eight outputs. Four independent blocks interleaved give the
    /// processor four dependency chains to overlap. Plain integer code rather than SIMD types: on SSE2 it
    /// measured the same as the best SIMD layout in release builds and is many times faster in debug builds,
    /// where callers' tests run it.
    @usableFromInline
    static func generate(firstBlock n: UInt64, key: SIMD2<UInt32>, stream: UInt64, into out: UnsafeMutablePointer<UInt64>) {
        let s0 = UInt32(truncatingIfNeeded: stream), s1 = UInt32(truncatingIfNeeded: stream >> 32)
        var a = Block(n, s0, s1), b = Block(n &+ 1, s0, s1), c = Block(n &+ 2, s0, s1), d = Block(n &+ 3, s0, s1)
        var k0 = key.x, k1 = key.y
        for round in 0..<10 {
            if round > 0 {
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            a.round(k0, k1)
            b.round(k0, k1)
            c.round(k0, k1)
            d.round(k0, k1)
        }
        a.store(out)
        b.store(out + 2)
        c.store(out + 4)
        d.store(out + 6)
    }

    /// One block's counter words during the rounds.
    @usableFromInline
    struct Block {
        var c0, c1, c2, c3: UInt32

        @inline(__always)
        init(_ block: UInt64, _ s0: UInt32, _ s1: UInt32) {
            c0 = UInt32(truncatingIfNeeded: block)
            c1 = UInt32(truncatingIfNeeded: block >> 32)
            c2 = s0
            c3 = s1
        }

        @inline(__always)
        mutating func round(_ k0: UInt32, _ k1: UInt32) {
            let p0 = UInt64(c0) &* 0xD251_1F53, p1 = UInt64(c2) &* 0xCD9E_8D57
            c0 = UInt32(truncatingIfNeeded: p1 &>> 32) ^ c1 ^ k0
            c2 = UInt32(truncatingIfNeeded: p0 &>> 32) ^ c3 ^ k1
            c1 = UInt32(truncatingIfNeeded: p1)
            c3 = UInt32(truncatingIfNeeded: p0)
        }

        @inline(__always)
        func store(_ out: UnsafeMutablePointer<UInt64>) {
            out[0] = UInt64(c0) | UInt64(c1) &<< 32
            out[1] = UInt64(c2) | UInt64(c3) &<< 32
        }
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
