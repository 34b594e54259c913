import Testing
@testable import TailForgeNumerics

@Suite struct PhiloxTests {
    /// Random123 1.14 `examples/kat_vectors`, lines "philox4x32 10 CTR[4] KEY[2] → OUT[4]".
    static let knownAnswers: [(counter: SIMD4<UInt32>, key: SIMD2<UInt32>, output: SIMD4<UInt32>)] = [
        (.init(0, 0, 0, 0), .init(0, 0), .init(0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8)),
        (.init(0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF), .init(0xFFFF_FFFF, 0xFFFF_FFFF),
         .init(0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD)),
        (.init(0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), .init(0xA409_3822, 0x299F_31D0),
         .init(0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1)),
    ]

    @Test func bijectionMatchesRandom123KnownAnswers() {
        for vector in Self.knownAnswers {
            #expect(Philox4x32.bijection(counter: vector.counter, key: vector.key) == vector.output)
        }
    }

    /// The buffered four-lane generator must produce exactly the reference bijection's blocks, in order,
    /// including across the 32-bit carry of the block counter's low word.
    @Test func generatorStreamEqualsReferenceBlocks() {
        let seed: UInt64 = 0x0123_4567_89AB_CDEF, stream: UInt64 = 0xA409_3822_299F_31D0
        var rng = Philox4x32(seed: seed, stream: stream)
        let key = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        for block in 0..<50 as Range<UInt64> {
            let expected = Philox4x32.bijection(
                counter: SIMD4(UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32),
                               UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
                key: key)
            #expect(rng.next() == UInt64(expected[0]) | UInt64(expected[1]) << 32)
            #expect(rng.next() == UInt64(expected[2]) | UInt64(expected[3]) << 32)
        }
        var late = Philox4x32(seed: seed, stream: stream)
        late.nextBlock = 0xFFFF_FFFE
        let expected = Philox4x32.bijection(
            counter: SIMD4(0, 1, UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)), key: key)
        for _ in 0..<4 { _ = late.next() }
        #expect(late.next() == UInt64(expected[0]) | UInt64(expected[1]) << 32)
    }

    /// Bulk output must be exactly the `next()` sequence, whatever the buffer position when it starts.
    @Test(arguments: [0, 1, 3, 8, 13])
    func bulkFillEqualsRepeatedNext(skip: Int) {
        var bulk = Philox4x32(seed: 5, stream: 6), single = Philox4x32(seed: 5, stream: 6)
        for _ in 0..<skip {
            _ = bulk.next()
            _ = single.next()
        }
        var words = [UInt64](repeating: 0, count: 37)
        words.withUnsafeMutableBufferPointer { bulk.fill($0) }
        #expect(words == (0..<37).map { _ in single.next() })
        #expect(bulk.next() == single.next())
    }

    @Test func sameKeyRepeatsAndOtherStreamsDiffer() {
        var a = Philox4x32(seed: 42, stream: 7), b = Philox4x32(seed: 42, stream: 7)
        var c = Philox4x32(seed: 42, stream: 8), e = Philox4x32(seed: 43, stream: 7)
        let xa = (0..<100).map { _ in a.next() }
        #expect(xa == (0..<100).map { _ in b.next() })
        #expect(xa != (0..<100).map { _ in c.next() })
        #expect(xa != (0..<100).map { _ in e.next() })
    }

    @Test func outputBitsAreBalanced() {
        var rng = Philox4x32(seed: 1, stream: 2)
        expectBalancedBits(&rng)
    }
}
