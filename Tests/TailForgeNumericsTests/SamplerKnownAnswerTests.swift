import Testing
@testable import TailForgeNumerics

/// Known answers: digests of the exact bits the normal generator and the vMF sampler produce for fixed seeds.
/// Compact balanced files regenerate their synthetic rows on load and finished jobs are replayed bit for bit, so
/// a change to any of these bits — the order the stream is consumed in, the chunking, a rounding, a build for
/// another instruction set, the ziggurat's table — breaks every such file: a faster sampler must give these same
/// bits, or be a new stream under a new tool version (files and manifests record it; the reader refuses a file
/// whose probe class it cannot regenerate, replay a manifest of another version). Recorded for tool version
/// 0.3.0 (the 1,024-layer ziggurat), after the statistical tests (`StandardNormalTests`,
/// `VonMisesFisherSamplerTests`) passed on that stream; 0.2.0's (256 layers, main at a12fbc4 to 0ea1115) are in
/// git history.
@Suite struct SamplerKnownAnswerTests {
    /// FNV-1a (64-bit) over the little-endian bytes of each value's bit pattern.
    struct Digest {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        mutating func add(_ bits: UInt64, bytes: Int) {
            for i in 0..<bytes {
                value ^= (bits >> UInt64(8 * i)) & 0xFF
                value = value &* 0x0000_0100_0000_01b3
            }
        }
        mutating func add(_ values: [Float]) { for v in values { add(UInt64(v.bitPattern), bytes: 4) } }
    }

    /// Normals from `fill` at lengths around the 256-draw chunk and the 768 of a sample, one stream running on
    /// across the calls (60 rounds: about 1,800 draws fall outside their box, some 20 of them in the tail).
    static func fillDigest<G: RandomNumberGenerator>(_ rng: inout G, rounds: Int) -> UInt64 {
        var digest = Digest()
        for _ in 0..<rounds {
            for count in [1, 2, 7, 255, 256, 257, 511, 768, 1000, 4099] {
                var values = [Float](repeating: .nan, count: count)
                values.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
                digest.add(values)
            }
            digest.add(rng.next(), bytes: 8)
        }
        return digest.value
    }

    static func nextDigest<G: RandomNumberGenerator>(_ rng: inout G, count: Int) -> UInt64 {
        var digest = Digest()
        for _ in 0..<count { digest.add(StandardNormal.next(using: &rng).bitPattern, bytes: 8) }
        return digest.value
    }

    /// vMF samples on the engine's stream at the κ of the benchmarks and beyond, the mean not of unit length.
    static func vmfDigest(dimension d: Int, samples: Int) -> UInt64 {
        var digest = Digest()
        var meanRNG = Philox4x32(seed: UInt64(d), stream: 5)
        var mean = [Float](repeating: 0, count: d)
        mean.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &meanRNG) }
        let sampler = VonMisesFisherSampler(dimension: d)
        var rng = Xoshiro256PlusPlusLanes(seed: 7, stream: UInt64(d))
        var out = [Float](repeating: 0, count: d)
        for kappa in [0.5, 250, 1700, 38_000, 1e8] {
            for _ in 0..<samples {
                mean.withUnsafeBufferPointer { m in
                    out.withUnsafeMutableBufferPointer { sampler.sample(mean: m, kappa: kappa, into: $0, using: &rng) }
                }
                digest.add(out)
            }
        }
        return digest.value
    }

    @Test func normalFillOnEveryGeneratorKeepsItsBits() {
        var lanes = Xoshiro256PlusPlusLanes(seed: 3, stream: 1)
        var philox = Philox4x32(seed: 3, stream: 1)
        var scalar = Xoshiro256PlusPlus(seed: 3, stream: 1)
        #expect(Self.fillDigest(&lanes, rounds: 60) == 0x677f_4c20_c4ca_50a8)
        #expect(Self.fillDigest(&philox, rounds: 6) == 0xa906_bda3_7a0e_b735)
        #expect(Self.fillDigest(&scalar, rounds: 6) == 0xe756_8803_28c9_50c1)
        // The Double draws (Wood's cosine takes them), on from where the Float ones left the streams.
        #expect(Self.nextDigest(&lanes, count: 50_000) == 0xf2f8_9e29_8acc_43b1)
        #expect(Self.nextDigest(&philox, count: 5_000) == 0x3383_3295_9b0f_7fd4)
    }

    @Test func vonMisesFisherSamplesKeepTheirBits() {
        #expect(Self.vmfDigest(dimension: 768, samples: 60) == 0x9d86_3aef_36f6_dc9d)
        #expect(Self.vmfDigest(dimension: 3, samples: 400) == 0x770c_9646_6df4_c5bf)
    }
}

/// The envelope made once per κ (as the engine makes it once per centre) must give the draws made with κ itself.
@Suite struct VonMisesFisherEnvelopeTests {
    @Test(arguments: [0, 0.5, 250, 1700, 38_000, 1e10, .infinity])
    func drawsWithAMadeEnvelopeAreTheDrawsWithKappa(kappa: Double) {
        let d = 768
        var meanRNG = Philox4x32(seed: 11, stream: 0)
        var mean = [Float](repeating: 0, count: d)
        mean.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &meanRNG) }
        let sampler = VonMisesFisherSampler(dimension: d)
        let envelope = sampler.envelope(kappa: kappa)
        #expect(envelope.kappa == kappa)
        var byKappa = Xoshiro256PlusPlusLanes(seed: 2, stream: 9), byEnvelope = byKappa
        var a = [Float](repeating: 0, count: d), b = [Float](repeating: 0, count: d)
        for _ in 0..<20 {
            mean.withUnsafeBufferPointer { m in
                a.withUnsafeMutableBufferPointer { sampler.sample(mean: m, kappa: kappa, into: $0, using: &byKappa) }
                b.withUnsafeMutableBufferPointer { sampler.sample(mean: m, envelope: envelope, into: $0, using: &byEnvelope) }
            }
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        }
        #expect(byKappa.next() == byEnvelope.next())
    }
}
