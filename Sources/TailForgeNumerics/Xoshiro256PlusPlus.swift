/// The generator xoshiro256++ 1.0 (Blackman & Vigna, "Scrambled linear pseudorandom number generators", 2021):
/// 256 bits of state, period 2²⁵⁶ − 1, passes BigCrush and PractRand, about 1 ns per 64-bit output.
///
/// The balancing engine's hot path draws hundreds of millions of normals; Philox4x32-10 costs 8–15 ns per
/// output here, xoshiro256++ a tenth of that. Reproducibility is kept by keying: ``init(seed:stream:)`` takes its
/// state from Philox4x32(seed, stream), so a class's stream is still a pure function of (job seed, class id),
/// bit-identical on every platform, and different keys start at unrelated points of the period.
public struct Xoshiro256PlusPlus: RandomNumberGenerator, Sendable {
    @usableFromInline var s0, s1, s2, s3: UInt64

    /// Starts from an explicit state, as the reference code does; the all-zero state is a fixed point and is
    /// rejected.
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "xoshiro256++ state must not be all zero")
        (s0, s1, s2, s3) = state
    }

    /// The state is the first four outputs of Philox4x32(seed, stream) (further outputs if those were all zero).
    public init(seed: UInt64, stream: UInt64) {
        var keyed = Philox4x32(seed: seed, stream: stream)
        repeat {
            (s0, s1, s2, s3) = (keyed.next(), keyed.next(), keyed.next(), keyed.next())
        } while (s0 | s1 | s2 | s3) == 0
    }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 { Self.step(&s0, &s1, &s2, &s3) }

    /// One output and state update of the reference `next()`, on state held by the caller (``fill(_:)`` keeps
    /// it in locals, hence registers, for a whole loop).
    @inlinable @inline(__always)
    static func step(_ a: inout UInt64, _ b: inout UInt64, _ c: inout UInt64, _ d: inout UInt64) -> UInt64 {
        let result = rotl(a &+ d, 23) &+ a
        let t = b &<< 17
        c ^= a
        d ^= b
        b ^= c
        a ^= d
        c ^= t
        d = rotl(d, 45)
        return result
    }

    /// Writes the next `words.count` outputs: the same values, in the same order, as that many ``next()`` calls,
    /// with the state held in registers for the whole loop.
    @inlinable
    public mutating func fill(_ words: UnsafeMutableBufferPointer<UInt64>) {
        guard let base = words.baseAddress else { return }
        fill(base, count: words.count)
    }

    @inlinable
    mutating func fill(_ words: UnsafeMutablePointer<UInt64>, count: Int) {
        var (a, b, c, d) = (s0, s1, s2, s3)
        for i in 0..<count { words[i] = Self.step(&a, &b, &c, &d) }
        (s0, s1, s2, s3) = (a, b, c, d)
    }

    @inlinable @inline(__always)
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x &<< k) | (x &>> (64 &- k)) }
}
