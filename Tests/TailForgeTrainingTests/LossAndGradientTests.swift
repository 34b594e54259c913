import Foundation
import Testing
import TailForgeNumerics
@testable import TailForgeTraining

@Suite struct LossAndGradientTests {
    /// One block's figures, added through the same entry point as the softmax kernel.
    func block(classCount: Int, dimension: Int, rows: Int = 1, loss: Double, weights: [Float], bias: [Double]) -> LossAndGradient {
        var sum = LossAndGradient(classCount: classCount, dimension: dimension)
        weights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in sum.addBlock(rows: rows, loss: loss, weightGradient: w, biasGradient: b) }
        }
        return sum
    }

    /// `round(v·2³²)` summed with plain Int128 arithmetic: the encoding sums had before range checks existed.
    func referenceFixedPoint(_ values: [Double]) -> Int128 {
        values.reduce(Int128(0)) { $0 + Int128(($1 * 0x1p32).rounded()) }
    }

    @Test func inRangeBlocksGiveTheSameFixedPointBitsAsPlainRounding() {
        // Ordinary magnitudes, from far below 2⁻³² to well above 2³⁰ (the Int64 fast path and the slow path),
        // in random order: the sums must be exactly Σ round(v·2³²), the values they always had.
        var rng = Xoshiro256PlusPlus(seed: 11, stream: 0)
        let c = 3, d = 4, blocks = 40
        var total = LossAndGradient(classCount: c, dimension: d)
        var losses: [Double] = [], entries = [[Double]](repeating: [], count: c * (d + 1))
        for _ in 0 ..< blocks {
            let scale = Foundation.pow(10, Double.random(in: -12 ... 15, using: &rng))
            let weights = (0 ..< c * d).map { _ in Float(scale * StandardNormal.next(using: &rng)) }
            let bias = (0 ..< c).map { _ in scale * StandardNormal.next(using: &rng) }
            let loss = scale * Double.random(in: 0 ..< 5, using: &rng)
            total.add(block(classCount: c, dimension: d, rows: 7, loss: loss, weights: weights, bias: bias))
            losses.append(loss)
            for i in 0 ..< c * d { entries[i].append(Double(weights[i])) }
            for k in 0 ..< c { entries[c * d + k].append(bias[k]) }
        }
        #expect(total.status == .exact)
        #expect(total.rows == 7 * blocks)
        #expect(total.fixedPointLoss == referenceFixedPoint(losses))
        #expect(total.fixedPointGradient == entries.map(referenceFixedPoint))
    }

    @Test func aBlockBeyondTheRangeIsOutOfRangeWhateverTheOrder() {
        // 2⁸⁹ was accepted per block before (the old bound was 2⁹⁰), and 64 such blocks wrapped the Int128
        // total silently (2⁹⁵ after scaling by 2³²).
        let huge: Float = 0x1p89
        let blocks = (0 ..< 70).map { _ in block(classCount: 1, dimension: 1, loss: 1, weights: [huge], bias: [0]) }
            + [block(classCount: 1, dimension: 1, loss: 1, weights: [-1], bias: [0.5])]
        for b in blocks.prefix(70) { #expect(b.status == .outOfRange) }
        for order in [Array(0 ... 70), Array((0 ... 70).reversed()), [70] + Array(0 ..< 70)] {
            var sum = LossAndGradient(classCount: 1, dimension: 1)
            for i in order { sum.add(blocks[i]) }
            #expect(sum.status == .outOfRange)
            #expect(sum.lossSum == .infinity)
        }
        // Grouped differently (as threads or workers would), the verdict is the same.
        #expect(((blocks[0] + blocks[70]) + (blocks[1] + blocks[2])).status == .outOfRange)
        // The largest value under the limit is still exact.
        let edge = block(classCount: 1, dimension: 1, loss: 1, weights: [Float(0x1p55).nextDown], bias: [0x1p55.nextDown])
        #expect(edge.status == .exact)
    }

    @Test func aNonFiniteLossIsThePointsFaultAndAHugeFiniteGradientTheDatas() {
        // Logits overflowing at a far trial point: NaN loss and gradient → the line search shortens its step.
        let farPoint = block(classCount: 1, dimension: 1, loss: .nan, weights: [.nan], bias: [.nan])
        #expect(farPoint.status == .nonFinite)
        // A finite loss with an infinite gradient: Σ w·x overflowed float32 in the GEMM, whatever the point.
        let hugeData = block(classCount: 1, dimension: 1, loss: 0.7, weights: [.infinity], bias: [0])
        #expect(hugeData.status == .outOfRange)
        // Out of range wins over non-finite, in either order.
        #expect((farPoint + hugeData).status == .outOfRange)
        #expect((hugeData + farPoint).status == .outOfRange)
        #expect((farPoint + block(classCount: 1, dimension: 1, loss: 1, weights: [1], bias: [1])).status == .nonFinite)
    }

    @Test func aMalformedPartialThatWouldWrapIsCaughtNotWrapped() {
        // A partial not built from blocks (e.g. a corrupt remote reply) whose addition overflows Int128.
        let a = LossAndGradient(classCount: 1, dimension: 1, rows: 1, status: .exact, fixedPointLoss: .max - 1,
                                fixedPointGradient: [0, 0])
        let b = LossAndGradient(classCount: 1, dimension: 1, rows: 1, status: .exact, fixedPointLoss: 2, fixedPointGradient: [0, 0])
        #expect((a + b).status == .outOfRange)
        let c = LossAndGradient(classCount: 1, dimension: 1, rows: 1, status: .exact, fixedPointLoss: 0,
                                fixedPointGradient: [.min, 0])
        #expect((c + LossAndGradient(classCount: 1, dimension: 1, rows: 1, status: .exact, fixedPointLoss: 0,
                                     fixedPointGradient: [-1, 0])).status == .outOfRange)
    }

    /// Found by fuzzing (Fuzz/regressions/gradient-payload/size-overflow-16x-count): a header claiming
    /// 1,717,912,577 classes × 452,984,833 columns made the length check's 16 × count overflow and trap.
    @Test func aPayloadClaimingAHugeShapeIsRefusedNotATrap() {
        let bytes: [UInt8] = [0x01, 0x44, 0x65, 0x66, 0, 0, 0, 0, 0, 0, 0, 0x1b, 0, 0, 0, 0, 0, 0, 0, 0xab, 0x91, 0x8c, 0x94, 0x66, 0x00, 0x21]
            + [UInt8](repeating: 0, count: 23)
        #expect(LossAndGradient(serialized: bytes) == nil)
        var maximal = [UInt8](repeating: 0, count: 41)
        for offset in [0, 8] { withUnsafeBytes(of: Int64(Int32.max).littleEndian) { maximal.replaceSubrange(offset..<offset + 8, with: $0) } }
        maximal[24] = 1
        #expect(LossAndGradient(serialized: maximal) == nil)
    }

    @Test func theStatusSurvivesSerialization() {
        for status in [LossAndGradient.Status.exact, .nonFinite, .outOfRange] {
            let sums = LossAndGradient(classCount: 1, dimension: 2, rows: 5, status: status, fixedPointLoss: 3,
                                       fixedPointGradient: [1, -2, 3])
            #expect(LossAndGradient(serialized: sums.serialized()) == sums)
        }
        var bytes = LossAndGradient(classCount: 1, dimension: 1).serialized()
        bytes[24] = 3
        #expect(LossAndGradient(serialized: bytes) == nil)
    }

    @Test func trainingOnFeaturesNear1e24StopsWithTheCauseNamed() async throws {
        // The case: features of 1e24. Each block of 1024 rows adds ≈ −4.5e26 to the class-0 weight
        // gradient (below the old 2⁹⁰ per-block bound), and 120 blocks exceed 2⁹⁵, where the old Int128 sums
        // wrapped silently into a wrong gradient.
        let rows = 120 * 1024
        var storage = [Float](repeating: 0, count: rows * 2)
        for i in 0 ..< rows { storage[2 * i] = 1e24; storage[2 * i + 1] = Float(i % 3) * 1e23 }
        let labels = (0 ..< rows).map { Int32($0 % 16 == 0 ? 1 : 0) }
        let data = try TrainingShard(name: "huge.h5", embeddings: Matrix(rows: rows, columns: 2, storage: storage), labels: labels)
        let source = try LocalGradientSource(shards: [data], classCount: 2, threads: 2)
        let sums = try await source.evaluate(.zeros(classCount: 2, dimension: 2))
        #expect(sums.status == .outOfRange)
        await #expect(throws: TrainingError.gradientOutOfRange(rows: rows)) {
            _ = try await SoftmaxTrainer.train(source: source, settings: TrainingSettings())
        }
        #expect(TrainingError.gradientOutOfRange(rows: rows).description.contains("too large to sum exactly"))
    }
}
