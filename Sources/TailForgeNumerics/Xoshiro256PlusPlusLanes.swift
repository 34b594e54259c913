import CTailForgeKernels

/// Eight independent xoshiro256++ generators advanced together, one per SIMD lane, read as one stream.
///
/// The scalar ``Xoshiro256PlusPlus`` is bound by its dependency chain (about 3 cycles per output); eight lanes
/// are eight chains, which one AVX-512 register advances in the time of one (0.3 ns per output here against
/// 1.4 ns). The outputs are step-major: step s yields lane 0's output, then lane 1's … lane 7's, and
/// ``next()`` and ``fill(_:)`` return exactly that sequence, so a bulk consumer and a one-word-at-a-time
/// consumer see the same numbers. Keyed like the scalar generator: lane l's state is outputs 4l…4l+3 of
/// Philox4x32(seed, stream), so a stream is a pure function of (seed, stream) on every machine, whichever
/// instruction set the loader picked for the lanes (see `tailforge_kernels.h`).
public struct Xoshiro256PlusPlusLanes: RandomNumberGenerator, Sendable {
    @usableFromInline static var lanes: Int { Int(TAILFORGE_XOSHIRO_LANES) }

    /// The lanes' state and the next four steps' outputs, handed out by ``next()`` from the buffer's position
    /// (four steps per refill so the call into the vector loop is paid once per 32 words); a C struct, so that
    /// the normal generator's C loop draws further words from it in place.
    @usableFromInline var generator: tailforge_xoshiro_lanes

    @usableFromInline static var bufferedWords: Int { Int(TAILFORGE_XOSHIRO_LANES_BUFFERED) }

    /// Which build of the lanes loop the loader chose on this CPU ("AVX-512", "AVX2" or "baseline"), for reports.
    public static var instructionSet: String {
        switch tailforge_random_isa_level() {
        case 4: "AVX-512"
        case 3: "AVX2"
        default: "baseline"
        }
    }

    /// Starts from explicit lane states (lane l gets `states[l]`); none may be all zero, the fixed point.
    public init(states: [(UInt64, UInt64, UInt64, UInt64)]) {
        precondition(states.count == Self.lanes, "xoshiro256++ lanes: need \(Self.lanes) states, got \(states.count)")
        generator = tailforge_xoshiro_lanes()
        generator.position = Int64(Self.bufferedWords)
        withUnsafeMutableBytes(of: &generator.state) { raw in
            let state = raw.bindMemory(to: UInt64.self)
            for (l, s) in states.enumerated() {
                precondition(s != (0, 0, 0, 0), "xoshiro256++ state of lane \(l) must not be all zero")
                (state[l], state[Self.lanes + l], state[2 * Self.lanes + l], state[3 * Self.lanes + l]) = s
            }
        }
    }

    /// Lane l's state is the next four outputs of Philox4x32(seed, stream) after lanes 0…l−1 took theirs
    /// (further outputs where four were all zero).
    public init(seed: UInt64, stream: UInt64) {
        var keyed = Philox4x32(seed: seed, stream: stream)
        var states: [(UInt64, UInt64, UInt64, UInt64)] = []
        for _ in 0..<Self.lanes {
            var s: (UInt64, UInt64, UInt64, UInt64)
            repeat { s = (keyed.next(), keyed.next(), keyed.next(), keyed.next()) } while s == (0, 0, 0, 0)
            states.append(s)
        }
        self.init(states: states)
    }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        if generator.position == Self.bufferedWords { tailforge_xoshiro_lanes_refill(&generator) }
        let position = Int(truncatingIfNeeded: generator.position)
        // A load at a computed offset: indexing the imported C array (a tuple) with a variable goes through the
        // stack element by element.
        let value = withUnsafeBytes(of: &generator.buffer) { $0.load(fromByteOffset: position &* 8, as: UInt64.self) }
        generator.position &+= 1
        return value
    }

    /// Writes the next `words.count` outputs: the same values, in the same order, as that many ``next()`` calls.
    @inlinable
    public mutating func fill(_ words: UnsafeMutableBufferPointer<UInt64>) {
        guard let base = words.baseAddress else { return }
        fill(base, count: words.count)
    }

    @inlinable
    mutating func fill(_ words: UnsafeMutablePointer<UInt64>, count: Int) {
        tailforge_xoshiro_lanes_words(&generator, words, count)
    }
}
