import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

/// `publish: virtual` end to end on a real local cluster: the output is a small file of HDF5 virtual datasets
/// over the shard files the coordinator placed in `OUT.shards/JOB/`, and reads the same rows as the copied file
/// and single-node `balance`.
extension ClusterProcessTests.ProcessClusterTests {
    func virtualManifest(_ fixture: Fixture, output: String, shards: Int) throws -> JobManifest {
        var manifest = try fixture.manifestWithSharedShards(output: output, shards: shards)
        manifest.publish = .virtual
        return manifest
    }

    @Test func aVirtualPublishReadsTheSameRowsAsTheCopiedFileAndSingleNodeBalance() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.start(workers: 2)
        let client = try ClusterClient(coordinator: cluster.endpoint)
        let virtual = try virtualManifest(fixture, output: "virtual.h5", shards: 5)
        let copied = fixture.manifest(output: "copied.h5", shards: 5)
        var ids: [String] = []
        for manifest in [virtual, copied] {
            let job = try client.submit(manifest)
            let final = try #require(try await Self.waitForJob(job, on: cluster.endpoint))
            #expect(final.state == .committed, "\(final.error ?? "")")
            ids.append(job)
        }
        let single = (fixture.directory as NSString).appendingPathComponent("single.h5")
        #expect(try SHA256.hexDigest(ofFileAt: copied.output) == fixture.referenceSHA256)

        // The same rows and attributes (the set's identity included) as the copy and single-node balance.
        let content = try BalancedContentDigest.compute(ofFileAt: single)
        #expect(try BalancedContentDigest.compute(ofFileAt: virtual.output) == content)
        #expect(try BalancedDatasetFile(path: virtual.output).attributes == BalancedDatasetFile(path: single).attributes)
        #expect(try BalancedDatasetFile(path: virtual.output).classNames == BalancedDatasetFile(path: single).classNames)
        let virtualRecord = try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: virtual.output))
        let copiedRecord = try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: copied.output))
        #expect(virtualRecord.outputContentSHA256 == content && copiedRecord.outputContentSHA256 == content)
        #expect(virtualRecord.outputSHA256 == (try SHA256.hexDigest(ofFileAt: virtual.output)) && virtualRecord.outputSHA256 != fixture.referenceSHA256)

        // No rows copied: a few KiB of mappings; the shard files sit beside it, one per shard, under the job.
        let size = { (path: String) in ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0 }
        #expect(size(virtual.output) * 20 < size(copied.output), "virtual \(size(virtual.output)) B, copied \(size(copied.output)) B")
        let shardDirectory = (fixture.directory as NSString).appendingPathComponent("virtual.shards/\(ids[0])")
        #expect(try FileManager.default.contentsOfDirectory(atPath: shardDirectory).sorted() == (0..<5).map { "shard-\($0).h5" })
        #expect(try HDF5File.open(path: virtual.output).openDataset("embeddings").virtualSourceFiles.allSatisfy { $0.hasPrefix("virtual.shards/\(ids[0])/") })
        #expect(await ClusterProcessTests.ClusterFaultTests.waitForNoLeftovers(cluster).isEmpty, "\(ClusterProcessTests.ClusterFaultTests.leftovers(cluster))")

        // Every TailForge reader sees the same rows: the same model (weights, bias, and every attribute but the
        // training files' names) and the same evaluation.
        var models: [(weights: [Float], bias: [Float], attributes: [String: AttributeValue])] = []
        for (name, input) in [("model-virtual.h5", virtual.output), ("model-single.h5", single)] {
            let model = (fixture.directory as NSString).appendingPathComponent(name)
            let train = try await Child.run(fixture.executable, ["train", input, "--output", model, "--max-iter", "5", "--threads", "2"])
            #expect(train.status == 0, "\(train.stderr)")
            let file = try HDF5File.open(path: model)
            models.append((try file.openDataset("weights").read(as: Float.self), try file.openDataset("bias").read(as: Float.self),
                           try file.rootAttributes().filter { $0.key != "input_files" }))
        }
        #expect(models[0].weights == models[1].weights && models[0].bias == models[1].bias && models[0].attributes == models[1].attributes)
        let model = (fixture.directory as NSString).appendingPathComponent("model-single.h5")
        let evaluations = try await [virtual.output, single].asyncMap { train in
            try await Child.run(fixture.executable, ["evaluate", model, fixture.input, "--train", train]).stdout
        }
        #expect(evaluations[0] == evaluations[1] && !evaluations[0].isEmpty)
        // `materialize` takes compact files only, and says so for a virtual (full-layout) file as for a copied one.
        let materialize = try await Child.run(fixture.executable, ["materialize", virtual.output, "--output",
                                                                   (fixture.directory as NSString).appendingPathComponent("m.h5")])
        #expect(materialize.status != 0 && materialize.stderr.contains("full"), "\(materialize.stderr)")

        // Replay reruns on one node and compares what makes sense for a virtual file: every dataset's content.
        let replay = try await Child.run(fixture.executable, ["replay", ResolvedManifest.path(forOutput: virtual.output), "--local", "--threads", "2",
                                                              "--output", (fixture.directory as NSString).appendingPathComponent("virtual-replay.h5")])
        #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
        #expect(replay.stdout.contains("file SHA-256 not compared") && replay.stdout.contains("bit-identical rows"), "\(replay.stdout)")

        // A shard file deleted afterwards: every reader refuses the file, naming the missing shard, instead of
        // reading fill values.
        let victim = (shardDirectory as NSString).appendingPathComponent("shard-3.h5")
        try FileManager.default.removeItem(atPath: victim)
        #expect(throws: StorageError.missingVirtualSource(file: virtual.output, dataset: "embeddings", source: "virtual.shards/\(ids[0])/shard-3.h5")) {
            try BalancedDatasetFile(path: virtual.output)
        }
        let broken = try await Child.run(fixture.executable, ["train", virtual.output, "--output", (fixture.directory as NSString).appendingPathComponent("no.h5")])
        #expect(broken.status != 0 && broken.stderr.contains("shard-3.h5, which is missing"), "\(broken.stderr)")

        // Published again with `publish: copy` over it: the old virtual output's shard directory goes with it.
        var again = copied
        again.output = virtual.output
        again.overwrite = true
        let job = try client.submit(again)
        let final = try #require(try await Self.waitForJob(job, on: cluster.endpoint))
        #expect(final.state == .committed, "\(final.error ?? "")")
        #expect(try SHA256.hexDigest(ofFileAt: virtual.output) == fixture.referenceSHA256)
        #expect(!FileManager.default.fileExists(atPath: (fixture.directory as NSString).appendingPathComponent("virtual.shards")))
    }

    /// A coordinator whose commits (the publish's rename) wait 10 minutes, and two workers that write at full speed.
    func startHoldingTheCoordinatorsCommit(_ cluster: LocalCluster) async throws {
        cluster.environment = [AtomicHDF5Writer.testCommitDelayVariable: "600000"]
        try await cluster.startCoordinator()
        cluster.environment = [:]
        for _ in 0..<2 { try cluster.startWorker() }
        try await cluster.waitForWorkers(2)
    }

    /// The coordinator killed while its virtual output is being committed: nothing is published; restarted, it
    /// publishes from the same shard files (placing them again is idempotent) and the output reads right.
    @Test func aCoordinatorKilledDuringAVirtualPublishLeavesNoOutputAndPublishesOnResume() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await startHoldingTheCoordinatorsCommit(cluster)
        let manifest = try virtualManifest(fixture, output: "virtual-resumed.h5", shards: 4)
        let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
        let temporary = await eventually(seconds: 60) {
            Housekeeping.contents(fixture.directory).first { $0.hasPrefix(".virtual-resumed.h5.tmp-") }
        }
        #expect(temporary != nil, "the publish never reached its commit")
        await cluster.crashCoordinator()
        #expect(!FileManager.default.fileExists(atPath: manifest.output))

        let endpoint = cluster.endpoint
        try await cluster.startCoordinator(bind: endpoint)
        let final = try #require(try await Self.waitForJob(job, on: cluster.endpoint))
        #expect(final.state == .committed, "\(final.error ?? "")")
        let single = (fixture.directory as NSString).appendingPathComponent("single.h5")
        #expect(try BalancedContentDigest.compute(ofFileAt: manifest.output) == BalancedContentDigest.compute(ofFileAt: single))
        #expect(!Housekeeping.contents(fixture.directory).contains { $0.hasPrefix(".virtual-resumed.h5.tmp-") })
        #expect(Housekeeping.contents((fixture.directory as NSString).appendingPathComponent("virtual-resumed.shards")) == [job])
    }

    /// Cancelled before it published: the job's shard directory beside the output is removed with its other files.
    @Test func aVirtualPublishThatCannotFinishLeavesNoShardDirectory() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await startHoldingTheCoordinatorsCommit(cluster)
        let manifest = try virtualManifest(fixture, output: "virtual-cancelled.h5", shards: 3)
        let client = try ClusterClient(coordinator: cluster.endpoint)
        let job = try client.submit(manifest)
        let placed = (fixture.directory as NSString).appendingPathComponent("virtual-cancelled.shards/\(job)")
        _ = await eventually(seconds: 60) { Housekeeping.contents(placed).count == 3 ? true : nil }
        #expect((try? client.cancel(job: job))?.cancelled == true)
        _ = await eventually(seconds: 10) { !FileManager.default.fileExists(atPath: placed) }
        #expect(!FileManager.default.fileExists(atPath: (fixture.directory as NSString).appendingPathComponent("virtual-cancelled.shards")))
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
