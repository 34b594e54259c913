import Foundation
import Testing
@testable import TailForgeStorage
import TailForgeTestSupport

@Suite struct VirtualBalancedDatasetTests {
    /// Writes shard `index` with `count` rows whose values encode the shard, so stitching order is visible.
    private func writeShard(_ path: String, index: Int, count: Int, dimension: Int = 3) throws -> SampleRows {
        let rows = SampleRows(dimension: dimension, count: count)
        let writer = try BalancedDatasetWriter(
            path: path, dimension: dimension, totalRows: count, attributes: ["shard": .int(Int64(index))],
            classNames: nil, chunkRows: 4)
        try writer.append(
            embeddings: rows.embeddings.map { $0 + Float(100 * index) }, labels: rows.labels.map { $0 + Int32(index) },
            isSynthetic: rows.isSynthetic, sourceIndex: rows.sourceIndex.map { $0 + Int64(1000 * index) },
            kappa: rows.kappa)
        try writer.commit()
        return rows
    }

    private func makeShards(in directory: TemporaryDirectory, counts: [Int]) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory.file("shards"), withIntermediateDirectories: false)
        return try counts.enumerated().map { index, count in
            let name = "shards/shard-\(index).h5"
            _ = try writeShard(directory.file(name), index: index, count: count)
            return name
        }
    }

    @Test func stitchesShardsInOrderWithoutCopying() throws {
        let directory = TemporaryDirectory("storage")
        let shards = try makeShards(in: directory, counts: [5, 0, 7])
        let path = directory.file("out.h5")
        let attributes: [String: AttributeValue] = ["seed": .int(7)]
        #expect(try VirtualBalancedDataset.publish(path: path, shards: shards, attributes: attributes, classNames: ["a"]) == 12)
        let output = try BalancedDatasetFile(path: path)
        #expect(output.count == 12 && output.dimension == 3)
        #expect(output.attributes == attributes && output.classNames == ["a"])
        let first = SampleRows(dimension: 3, count: 5)
        let third = SampleRows(dimension: 3, count: 7)
        #expect(try output.readEmbeddings(rows: 0..<12) == first.embeddings + third.embeddings.map { $0 + 200 })
        #expect(try output.readLabels() == first.labels + third.labels.map { $0 + 2 })
        #expect(try output.readSourceIndex() == first.sourceIndex + third.sourceIndex.map { $0 + 2000 })
        #expect(try output.readIsSynthetic() == first.isSynthetic + third.isSynthetic)
        #expect(try output.readKappa() == first.kappa + third.kappa)
        // Rows are not copied: the virtual file is small whatever the shard sizes.
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? .max
        #expect(size < 16_384)
        // Same shards, same bytes.
        try VirtualBalancedDataset.publish(path: directory.file("again.h5"), shards: shards, attributes: attributes, classNames: ["a"])
        #expect(try SHA256.hexDigest(ofFileAt: path) == SHA256.hexDigest(ofFileAt: directory.file("again.h5")))
    }

    @Test func refusesToPublishWhenAShardIsMissing() throws {
        let directory = TemporaryDirectory("storage")
        let shards = try makeShards(in: directory, counts: [3, 4])
        let path = directory.file("out.h5")
        #expect(storageError {
            try VirtualBalancedDataset.publish(path: path, shards: shards + ["shards/shard-9.h5"], attributes: [:], classNames: nil)
        } == .missingShard(output: path, shard: "shards/shard-9.h5"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func refusesShardsOfDifferentDimension() throws {
        let directory = TemporaryDirectory("storage")
        var shards = try makeShards(in: directory, counts: [3])
        _ = try writeShard(directory.file("shards/wide.h5"), index: 1, count: 2, dimension: 4)
        shards.append("shards/wide.h5")
        let path = directory.file("out.h5")
        #expect(storageError { try VirtualBalancedDataset.publish(path: path, shards: shards, attributes: [:], classNames: nil) }
            == .shardMismatch(output: path, shard: "shards/wide.h5", reason: "has dimension 4, the others 3"))
    }

    @Test func readingAfterAShardVanishedIsRefused() throws {
        let directory = TemporaryDirectory("storage")
        let shards = try makeShards(in: directory, counts: [3, 4])
        let path = directory.file("out.h5")
        try VirtualBalancedDataset.publish(path: path, shards: shards, attributes: [:], classNames: nil)
        try FileManager.default.removeItem(atPath: directory.file(shards[1]))
        #expect(storageError { try BalancedDatasetFile(path: path) }
            == .missingVirtualSource(file: path, dataset: "embeddings", source: shards[1]))
    }

    @Test func mapsBlocksOfShardsInTheGivenOrder() throws {
        // The cluster's layout: classes interleave across shards, so the output takes blocks in class order.
        let directory = TemporaryDirectory("storage")
        let shards = try makeShards(in: directory, counts: [6, 4])
        let path = directory.file("out.h5")
        let blocks = [VirtualBalancedDataset.Block(shard: shards[0], rows: 0..<2), .init(shard: shards[1], rows: 0..<4),
                      .init(shard: shards[0], rows: 2..<3), .init(shard: shards[0], rows: 3..<6)]
        #expect(try VirtualBalancedDataset.publish(path: path, blocks: blocks, attributes: [:], classNames: nil) == 10)
        let first = SampleRows(dimension: 3, count: 6), second = SampleRows(dimension: 3, count: 4)
        let output = try BalancedDatasetFile(path: path)
        let expected = Array(first.embeddings[0..<6]) + second.embeddings.map { $0 + 100 } + Array(first.embeddings[6...])
        #expect(try output.readEmbeddings(rows: 0..<10) == expected)
        #expect(try output.readSourceIndex() == Array(first.sourceIndex[0..<2]) + second.sourceIndex.map { $0 + 1000 } + Array(first.sourceIndex[2...]))
        // Adjacent blocks of one shard are one mapping: three here, not four.
        let file = try HDF5File.open(path: path)
        #expect(try file.openDataset("labels").virtualMappings.count == 3)
    }

    @Test func refusesABlockBeyondItsShard() throws {
        let directory = TemporaryDirectory("storage")
        let shards = try makeShards(in: directory, counts: [3])
        let path = directory.file("out.h5")
        #expect(storageError {
            try VirtualBalancedDataset.publish(path: path, blocks: [.init(shard: shards[0], rows: 1..<5)], attributes: [:], classNames: nil)
        } == .shardMismatch(output: path, shard: shards[0], reason: "has 3 rows, and the output maps its rows 1..<5"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func readingAfterAShardWasReplacedByAShorterOneIsRefused() throws {
        let directory = TemporaryDirectory("storage")
        let shards = try makeShards(in: directory, counts: [3, 4])
        let path = directory.file("out.h5")
        try VirtualBalancedDataset.publish(path: path, shards: shards, attributes: [:], classNames: nil)
        try FileManager.default.removeItem(atPath: directory.file(shards[1]))
        _ = try writeShard(directory.file(shards[1]), index: 1, count: 2)
        #expect(storageError { try BalancedDatasetFile(path: path) }
            == .virtualSourceMismatch(file: path, dataset: "embeddings", source: shards[1], reason: "has 2 rows in /embeddings, and 4 are mapped from it"))
    }

    @Test func holesReadAsValuesNoBalancedFileHolds() throws {
        // What a reader that skips the check (h5py) sees for a missing shard: NaN and −1, never plausible zeros.
        let directory = TemporaryDirectory("storage")
        let shards = try makeShards(in: directory, counts: [3, 4])
        let path = directory.file("out.h5")
        try VirtualBalancedDataset.publish(path: path, shards: shards, attributes: [:], classNames: nil)
        try FileManager.default.removeItem(atPath: directory.file(shards[1]))
        let file = try HDF5File.open(path: path)
        #expect(try file.openDataset("embeddings").read(rows: 3..<7, as: Float.self).allSatisfy(\.isNaN))
        #expect(try file.openDataset("labels").read(as: Int32.self).suffix(4) == [-1, -1, -1, -1])
        #expect(try file.openDataset("is_synthetic").read(as: UInt8.self).suffix(4) == [255, 255, 255, 255])
        #expect(try file.openDataset("source_index").read(as: Int64.self).suffix(4) == [-1, -1, -1, -1])
    }
}
