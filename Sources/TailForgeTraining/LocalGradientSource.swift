import Foundation
import TailForgeNumerics
import Synchronization

/// A ``GradientSource`` over in-memory shards, computed on up to `threads` threads of this machine's ``ComputePool``.
///
/// ## Work split and what is guaranteed
/// Rows are numbered globally: shard 0's rows first (starting at `firstGlobalRow`), then shard 1's, and so
/// on. The global row range is cut into blocks at every multiple of `blockRows` **and** at every shard
/// boundary; each block is one pair of GEMMs (``SoftmaxBlockKernel``). The threads take blocks from a shared
/// counter in any order; each block's loss and gradient is rounded to fixed point and added exactly
/// (``LossAndGradient``), so:
/// - the result is bit-identical for every thread count and every scheduling;
/// - it is bit-identical for every split of the same rows (in the same order) into shards whose boundaries
///   fall on multiples of `blockRows` (the blocks are then the same), including a split across processes
///   where each process evaluates its shards with the matching `firstGlobalRow`;
/// - for other splits only the blocks that straddle a boundary differ, by float32 rounding inside them;
/// - all of this assumes the same OpenBLAS kernel (same CPU family): OpenBLAS picks its GEMM kernel by CPU.
/// The blocks run on ``ComputePool`` threads (which keep OpenBLAS single-threaded); the caller's task suspends.
public struct LocalGradientSource: GradientSource {
    public let classCount: Int
    public let dimension: Int
    public let rowCount: Int
    public let shards: [TrainingShard]
    public let threads: Int
    public let blockRows: Int
    public let firstGlobalRow: Int
    /// One weight per class multiplying each row's loss, or nil for all ones.
    public let classWeights: [Float]?

    struct Block: Sendable {
        let shard: Int
        let start: Int
        let count: Int
    }
    let blocks: [Block]

    /// Checks that every shard has the same dimension and labels in `0 ..< classCount`.
    public init(shards: [TrainingShard], classCount: Int, classWeights: [Float]? = nil,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                blockRows: Int = 1024, firstGlobalRow: Int = 0) throws(TrainingError) {
        guard let first = shards.first else { throw .noShards }
        guard classCount > 0 else { throw .invalidSetting(name: "class count", value: "\(classCount)", expected: "at least 1") }
        guard threads > 0 else { throw .invalidSetting(name: "threads", value: "\(threads)", expected: "at least 1") }
        guard blockRows > 0 else { throw .invalidSetting(name: "block rows", value: "\(blockRows)", expected: "at least 1") }
        guard firstGlobalRow >= 0 else { throw .invalidSetting(name: "first global row", value: "\(firstGlobalRow)", expected: "non-negative") }
        if let classWeights {
            _ = try ClassWeighting.custom(classWeights).weights(classCounts: [Int](repeating: 0, count: classCount))
        }
        for shard in shards {
            guard shard.dimension == first.dimension else {
                throw .dimensionMismatch(shard: shard.name, expected: first.dimension, found: shard.dimension)
            }
            if let bad = shard.labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
                throw .labelOutOfRange(shard: shard.name, row: bad, label: shard.labels[bad], classCount: classCount)
            }
        }
        var blocks: [Block] = []
        var globalRow = firstGlobalRow
        for (index, shard) in shards.enumerated() {
            let shardStart = globalRow, shardEnd = globalRow + shard.rowCount
            while globalRow < shardEnd {
                let blockEnd = min(shardEnd, (globalRow / blockRows + 1) * blockRows)
                blocks.append(Block(shard: index, start: globalRow - shardStart, count: blockEnd - globalRow))
                globalRow = blockEnd
            }
        }
        self.classCount = classCount
        self.dimension = first.dimension
        self.rowCount = globalRow - firstGlobalRow
        self.shards = shards
        self.threads = threads
        self.blockRows = blockRows
        self.firstGlobalRow = firstGlobalRow
        self.classWeights = classWeights
        self.blocks = blocks
    }

    public func evaluate(_ parameters: ModelParameters) async throws -> LossAndGradient {
        precondition(parameters.classCount == classCount && parameters.dimension == dimension,
                     "LocalGradientSource.evaluate: parameters are \(parameters.classCount)×\(parameters.dimension), data \(classCount)×\(dimension)")
        let width = min(threads, blocks.count)
        let evaluation = Evaluation(source: self, parameters: parameters, width: width)
        await ComputePool.forEach(width, width: width) { slot in evaluation.run(slot: slot) }
        return evaluation.total()
    }

    /// One evaluation: each pool slot takes blocks from `next` and sums into its own accumulator.
    private final class Evaluation: Sendable {
        let source: LocalGradientSource
        let parameters: ModelParameters
        let next = Atomic<Int>(0)
        let sums: ConcurrentResults<LossAndGradient>

        init(source: LocalGradientSource, parameters: ModelParameters, width: Int) {
            self.source = source
            self.parameters = parameters
            sums = ConcurrentResults(count: width)
        }

        func run(slot: Int) {
            var sum = LossAndGradient(classCount: source.classCount, dimension: source.dimension)
            var kernel = SoftmaxBlockKernel(classCount: source.classCount, dimension: source.dimension,
                                            maxBlockRows: min(source.blockRows, source.blocks.map(\.count).max() ?? 1))
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < source.blocks.count else { break }
                let block = source.blocks[index]
                kernel.accumulate(shard: source.shards[block.shard], start: block.start, count: block.count,
                                  parameters: parameters, classWeights: source.classWeights, into: &sum)
            }
            sums.set(slot, sum)
        }

        /// The exact sum of every slot's partial sums (fixed point, so the order does not matter).
        func total() -> LossAndGradient {
            var total = LossAndGradient(classCount: source.classCount, dimension: source.dimension)
            for partial in sums.values { total.add(partial!) }
            return total
        }
    }
}
