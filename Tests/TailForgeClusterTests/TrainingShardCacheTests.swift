import Foundation
import TailForgeTestSupport
import Testing
@testable import TailForgeCluster

/// Training shards are cached by what file a path names, not how it is spelt.
@Suite struct TrainingShardCacheTests {
    @Test func twentySpellingsOfOneFileShareOneCopy() throws {
        try withTemporaryDirectory("shard-cache") { base in
            try FileManager.default.createDirectory(atPath: base + "/sub", withIntermediateDirectories: true)
            let file = base + "/shard.h5"
            #expect(FileManager.default.createFile(atPath: file, contents: Data(count: 64)))
            try FileManager.default.createSymbolicLink(atPath: base + "/link.h5", withDestinationPath: file)
            var spellings = [file, base + "/./shard.h5", base + "/sub/../shard.h5", base + "//shard.h5", base + "/link.h5"]
            spellings += (1...15).map { base + String(repeating: "/.", count: $0) + "/shard.h5" }
            var cache = TrainingShardCache<Int>()
            var loads = 0
            for path in spellings {
                let identity = try #require(FileIdentity(path: path))
                if cache.lookup(path, identity: identity) == nil {
                    loads += 1
                    cache.insert(loads, path: path, identity: identity)
                }
            }
            #expect(spellings.count == 20 && loads == 1 && cache.count == 1)
            // Released only when the last spelling is.
            for path in spellings.dropLast() { cache.release(path) }
            #expect(cache.count == 1)
            cache.release(spellings.last!)
            #expect(cache.count == 0)
        }
    }

    @Test func aFileRewrittenInPlaceIsLoadedAgainAndItsOldCopyDropped() throws {
        try withTemporaryDirectory("shard-cache") { base in
            try FileManager.default.createDirectory(atPath: base + "/sub", withIntermediateDirectories: true)
            let file = base + "/shard.h5"
            #expect(FileManager.default.createFile(atPath: file, contents: Data(count: 64)))
            var cache = TrainingShardCache<String>()
            let before = try #require(FileIdentity(path: file))
            cache.insert("old", path: file, identity: before)
            try Data(count: 128).write(to: URL(fileURLWithPath: file))
            let after = try #require(FileIdentity(path: file))
            #expect(after != before)
            #expect(cache.lookup(file, identity: after) == nil)
            cache.insert("new", path: file, identity: after)
            #expect(cache.count == 1 && cache.values[after] == "new")
        }
    }

    @Test func twoFilesWithTheSameContentAreTwoEntries() throws {
        try withTemporaryDirectory("shard-cache") { base in
            try FileManager.default.createDirectory(atPath: base + "/sub", withIntermediateDirectories: true)
            for name in ["a.h5", "b.h5"] { #expect(FileManager.default.createFile(atPath: "\(base)/\(name)", contents: Data(count: 64))) }
            let a = try #require(FileIdentity(path: base + "/a.h5"))
            let b = try #require(FileIdentity(path: base + "/b.h5"))
            #expect(a != b)
            #expect(FileIdentity(path: base + "/missing.h5") == nil)
        }
    }

    @Test func theDefaultWorkerNameIsTheSameForTheSameWorkDirectoryHoweverSpelt() {
        let first = WorkerConfiguration.defaultName(host: "node7", workDirectory: "/var/lib/tailforge/work")
        #expect(first == WorkerConfiguration.defaultName(host: "node7", workDirectory: "/var/lib/tailforge/./work/"))
        #expect(first != WorkerConfiguration.defaultName(host: "node7", workDirectory: "/var/lib/tailforge/work2"))
        #expect(first.hasPrefix("node7-"))
    }
}
