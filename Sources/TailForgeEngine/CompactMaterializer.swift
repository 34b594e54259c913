import Foundation
import TailForgeNumerics
import TailForgeStorage

/// `tailforge materialize`: writes the full balanced file a compact one stands for, byte-identical to what
/// `balance --layout full` writes for the same input, settings and seed (same attributes, same rows, same
/// chunking, written through the same ``BalancedDatasetWriter``).
public struct CompactMaterializer: Sendable {
    public var input: String
    public var output: String
    public var threads: Int
    /// Re-read the finished output for its file SHA-256, as `balance` does.
    public var computeOutputDigest: Bool

    public init(input: String, output: String, threads: Int = ProcessInfo.processInfo.activeProcessorCount, computeOutputDigest: Bool = true) {
        self.input = input
        self.output = output
        self.threads = max(1, threads)
        self.computeOutputDigest = computeOutputDigest
    }

    public struct Summary: Sendable, Codable {
        public var rows: Int
        public var realRows: Int
        public var syntheticRows: Int
        public var balancedSHA256: String
        public var outputSHA256: String?
        public var outputContentSHA256: [String: String]
        public var seconds: Double
    }

    /// Checks the paths and the compact file, regenerates every class in order and commits the full file; on any
    /// failure nothing is left at `output`.
    public func run(progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws(CompactFileError) -> Summary {
        let start = Date()
        do { try AtomicHDF5Writer.checkWritable(path: output, distinctFrom: [input]) } catch { throw .storage(error) }
        let compact = try CompactBalancedFile(path: input)
        let attributes = compact.fullAttributes
        let writer: BalancedDatasetWriter
        do {
            writer = try BalancedDatasetWriter(path: output, dimension: compact.dimension, totalRows: compact.fullRows,
                                               attributes: attributes, classNames: compact.classNames, chunkRows: compact.fullChunkRows)
        } catch { throw .storage(error) }
        var rows = 0
        do {
            try BalancedSetRegenerator.forEachBlock(compact, threads: threads) { block in
                try writer.append(block)
                rows += block.count
                progress(rows, compact.fullRows)
            }
        } catch {
            writer.abandon()
            if let error = error as? CompactFileError { throw error }
            if let error = error as? StorageError { throw .storage(error) }
            throw .storage(.invalidArgument("\(error)"))
        }
        let closing = BalanceAttributes.identity(attributes, writer: writer)
        let identity = closing[BalancedSetIdentity.attributeName]?.stringValue ?? ""
        let recorded = compact.attributes[BalancedSetIdentity.attributeName]?.stringValue ?? ""
        guard identity == recorded else {
            writer.abandon()
            throw .digestMismatch(path: input, what: "the identity of the regenerated set", recorded: recorded, computed: identity)
        }
        let fileDigest: () -> String?
        do { fileDigest = try writer.commit(attributes: closing, digestingFile: computeOutputDigest) } catch { throw .storage(error) }
        let outputSHA256 = fileDigest()
        return Summary(rows: compact.fullRows, realRows: compact.plan.realRows, syntheticRows: compact.plan.syntheticRows,
                       balancedSHA256: identity, outputSHA256: outputSHA256, outputContentSHA256: writer.contentDigests ?? [:],
                       seconds: Date().timeIntervalSince(start))
    }
}
