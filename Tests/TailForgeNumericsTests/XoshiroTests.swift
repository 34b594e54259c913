import Testing
@testable import TailForgeNumerics

@Suite struct XoshiroTests {
    /// Outputs of the authors' reference C code (https://prng.di.unimi.it/xoshiro256plusplus.c, `next()`
    /// verbatim) compiled with `cc -O2`: the first eight from state (1, 2, 3, 4) — the same values as the
    /// rand_xoshiro crate's reference test — and outputs 1001…1004 from the state below.
    static let fromOneTwoThreeFour: [UInt64] = [
        0x0000_0000_0280_0001, 0x0000_0000_0380_0067, 0x000C_C000_0380_0067, 0x000C_C201_9944_00B2,
        0x8012_A201_9AC4_33CD, 0x8A69_978A_CDEE_33BA, 0xC271_1347_3315_4ABD, 0xAC2B_A091_7916_9E97,
    ]
    static let mixedState: (UInt64, UInt64, UInt64, UInt64) =
        (0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, 0x0F1E_2D3C_4B5A_6978, 0x8796_A5B4_C3D2_E1F0)
    static let mixedAfterThousand: [UInt64] = [0xD68A_142E_F42C_D71D, 0x16D0_37A5_4A7A_A27E, 0x98B9_C92A_94FF_4DB0, 0xB245_E898_B9BA_713A]

    @Test func matchesReferenceImplementation() {
        var rng = Xoshiro256PlusPlus(state: (1, 2, 3, 4))
        #expect((0..<8).map { _ in rng.next() } == Self.fromOneTwoThreeFour)
        var mixed = Xoshiro256PlusPlus(state: Self.mixedState)
        for _ in 0..<1000 { _ = mixed.next() }
        #expect((0..<4).map { _ in mixed.next() } == Self.mixedAfterThousand)
    }

    /// Bulk output must be exactly the `next()` sequence, and leave the generator in the same state.
    @Test(arguments: [0, 1, 5, 64])
    func bulkFillEqualsRepeatedNext(count: Int) {
        var bulk = Xoshiro256PlusPlus(state: Self.mixedState), single = bulk
        var words = [UInt64](repeating: 0, count: count)
        words.withUnsafeMutableBufferPointer { bulk.fill($0) }
        #expect(words == (0..<count).map { _ in single.next() })
        #expect(bulk.next() == single.next())
    }

    /// The keyed state is Philox4x32(seed, stream)'s first four outputs, so streams are reproducible and distinct.
    @Test func keyedStateComesFromPhilox() {
        var philox = Philox4x32(seed: 42, stream: 7)
        let state = (philox.next(), philox.next(), philox.next(), philox.next())
        var keyed = Xoshiro256PlusPlus(seed: 42, stream: 7), explicit = Xoshiro256PlusPlus(state: state)
        let xs = (0..<100).map { _ in keyed.next() }
        #expect(xs == (0..<100).map { _ in explicit.next() })
        var otherStream = Xoshiro256PlusPlus(seed: 42, stream: 8), otherSeed = Xoshiro256PlusPlus(seed: 43, stream: 7)
        #expect(xs != (0..<100).map { _ in otherStream.next() })
        #expect(xs != (0..<100).map { _ in otherSeed.next() })
    }

    @Test func outputBitsAreBalanced() {
        var rng = Xoshiro256PlusPlus(seed: 1, stream: 2)
        expectBalancedBits(&rng)
    }
}

@Suite struct XoshiroLanesTests {
    static let states: [(UInt64, UInt64, UInt64, UInt64)] = (0..<8).map { l in
        (XoshiroTests.mixedState.0 &+ UInt64(l), XoshiroTests.mixedState.1, XoshiroTests.mixedState.2 ^ UInt64(l << 7), XoshiroTests.mixedState.3)
    }

    /// Step s yields lane 0 … lane 7 in turn, each lane the reference generator from its own state (the scalar
    /// generator is checked against the authors' C code above); lane 0 from (1, 2, 3, 4) gives the published outputs.
    @Test func lanesAreReferenceGeneratorsReadStepMajor() {
        var lanes = Xoshiro256PlusPlusLanes(states: Self.states)
        var scalars = Self.states.map { Xoshiro256PlusPlus(state: $0) }
        for _ in 0..<300 {
            for l in 0..<8 { #expect(lanes.next() == scalars[l].next()) }
        }
        var fromOneTwoThreeFour = Xoshiro256PlusPlusLanes(states: [(1, 2, 3, 4)] + Array(Self.states.dropFirst()))
        var lane0: [UInt64] = []
        for _ in 0..<8 {
            lane0.append(fromOneTwoThreeFour.next())
            for _ in 1..<8 { _ = fromOneTwoThreeFour.next() }
        }
        #expect(lane0 == XoshiroTests.fromOneTwoThreeFour)
    }

    /// Bulk output equals the next() sequence from any position inside a step, and leaves the same state.
    @Test(arguments: [0, 1, 5, 8, 64, 67])
    func bulkFillEqualsRepeatedNext(count: Int) {
        for offset in [0, 3] {
            var bulk = Xoshiro256PlusPlusLanes(states: Self.states)
            for _ in 0..<offset { _ = bulk.next() }
            var single = bulk
            var words = [UInt64](repeating: 0, count: count)
            words.withUnsafeMutableBufferPointer { bulk.fill($0) }
            #expect(words == (0..<count).map { _ in single.next() })
            #expect((0..<20).map { _ in bulk.next() } == (0..<20).map { _ in single.next() })
        }
    }

    /// Lane l's state is outputs 4l…4l+3 of Philox4x32(seed, stream), so streams are reproducible and distinct.
    @Test func keyedStatesComeFromPhilox() {
        var philox = Philox4x32(seed: 42, stream: 7)
        let states = (0..<8).map { _ in (philox.next(), philox.next(), philox.next(), philox.next()) }
        var keyed = Xoshiro256PlusPlusLanes(seed: 42, stream: 7), explicit = Xoshiro256PlusPlusLanes(states: states)
        let xs = (0..<100).map { _ in keyed.next() }
        #expect(xs == (0..<100).map { _ in explicit.next() })
        var otherStream = Xoshiro256PlusPlusLanes(seed: 42, stream: 8), otherSeed = Xoshiro256PlusPlusLanes(seed: 43, stream: 7)
        #expect(xs != (0..<100).map { _ in otherStream.next() })
        #expect(xs != (0..<100).map { _ in otherSeed.next() })
    }

    @Test func outputBitsAreBalanced() {
        var rng = Xoshiro256PlusPlusLanes(seed: 1, stream: 2)
        expectBalancedBits(&rng)
    }
}
