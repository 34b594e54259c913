import Foundation
import TailForgeTestSupport
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

/// The engine backend and executor in one process: plan, both shard stages, gather — against single-node balance.
@Suite struct EngineBackendTests {
    /// A job run in its own temporary directory, which goes with the value.
    struct Job {
        let scratch: TemporaryDirectory
        var directory: String { scratch.path }
        let manifest: JobManifest
        let prepared: PreparedJob
        let shards: [ShardFile]
        let fallback: Float?
        /// Stage one's κ and the synthesis κ of each shard.
        var stageOne: [[Float]] = []
        var kappas: [[Float]] = []
        /// What each stage-2 result reported besides its file: a compact shard's content and probe digests.
        var outcomes: [ShardOutcome] = []
    }

    /// `shardDirectory`: where workers put shard files (the job's directory unless given).
    static func runJob(shardCount: Int, seed: UInt64 = 3, layout: BalancedLayout? = nil, policy: BalanceSettings? = nil,
                       shardDirectory: String? = nil) throws -> Job {
        let scratch = TemporaryDirectory("engine-backend")
        let directory = scratch.path
        let input = try SyntheticPreset.small.write(to: directory, seed: 2).train
        let manifest = JobManifest(input: .init(path: input), output: (directory as NSString).appendingPathComponent("out.h5"),
                                   policy: policy ?? BalanceSettings(seed: seed), layout: layout)
        let backend = EngineJobBackend()
        let prepared = try backend.prepare(manifest, shardCount: shardCount)
        let executor = EngineShardExecutor(environment: [:])
        let context = ShardContext(threads: 2, isCancelled: { false }, progress: { _, _ in })
        func task(_ index: Int, _ stage: ShardStage, kappas: [Float] = []) -> ShardTask {
            ShardTask(assignment: AssignShard(shard: ShardReference(job: "test", shard: index, stage: stage, attempt: 0), job: manifest,
                                              input: InputLocation(path: input, sha256: prepared.inputSHA256, byteCount: prepared.inputBytes, streamed: false),
                                              classes: prepared.shards[index], sharedShardDirectory: nil),
                      kappas: kappas, inputPath: input, outputDirectory: shardDirectory ?? directory)
        }
        let stageOne = try prepared.shards.indices.map { index in
            WireMessage.float32Values(try #require(try executor.execute(task(index, .concentrations), context: context).payload))!
        }
        let (kappas, fallback) = try backend.synthesisKappas(manifest, prepared, stageOne: stageOne)
        let outcomes = try prepared.shards.indices.map { index in
            let outcome = try executor.execute(task(index, .synthesis, kappas: kappas[index]), context: context)
            #expect(outcome.rowsPerClass == prepared.shards[index].map(\.outputCount))
            return outcome
        }
        // A compact shard's file is only hashed, in memory (nobody reads it): no path.
        let shards = try outcomes.map { ShardFile(path: layout == .compact ? "" : try #require($0.path), sha256: $0.sha256) }
        return Job(scratch: scratch, manifest: manifest, prepared: prepared, shards: shards, fallback: fallback, stageOne: stageOne, kappas: kappas,
                   outcomes: outcomes)
    }

    @Test(arguments: [1, 3, 8])
    func gatheredShardsAreTheSingleNodeBytes(shardCount: Int) throws {
        let job = try Self.runJob(shardCount: shardCount)
        let report = try EngineJobBackend().gather(job.manifest, job.prepared, shards: job.shards, kappas: job.kappas, fallback: job.fallback)
        let single = (job.directory as NSString).appendingPathComponent("single.h5")
        let summary = try BalanceRunner(input: job.manifest.input.spec(), outputPath: single, settings: job.manifest.policy, threads: 2).run()
        #expect(report.outputSHA256 == (try SHA256.hexDigest(ofFileAt: single)))
        #expect(report.rows == summary.realRows + summary.syntheticRows)
    }

    /// `publish: virtual`: the shards placed beside the output (``PublishedShardDirectory``, twice: idempotent) and
    /// mapped class by class give the rows, attributes and content digests of the copied file, in a few KiB.
    @Test func aVirtualGatherMapsTheRowsOfTheCopiedFile() throws {
        let job = try Self.runJob(shardCount: 3)
        let copied = try EngineJobBackend().gather(job.manifest, job.prepared, shards: job.shards, kappas: job.kappas, fallback: job.fallback)
        var manifest = job.manifest
        manifest.output = (job.directory as NSString).appendingPathComponent("virtual.h5")
        manifest.publish = .virtual
        let placement = PublishedShardDirectory(output: manifest.output, job: "job-test")
        _ = try placement.place(job.shards)
        let placed = try placement.place(job.shards)
        #expect(placed.map(\.path) == (0..<3).map { (job.directory as NSString).appendingPathComponent("virtual.shards/job-test/shard-\($0).h5") })
        let report = try EngineJobBackend().gather(manifest, job.prepared, shards: placed, kappas: job.kappas, fallback: job.fallback)
        #expect(report.outputContentSHA256 == copied.outputContentSHA256 && report.rows == copied.rows)
        #expect(try BalancedContentDigest.compute(ofFileAt: manifest.output) == copied.outputContentSHA256)
        #expect(try BalancedDatasetFile(path: manifest.output).attributes == BalancedDatasetFile(path: job.manifest.output).attributes)

        // A placed shard changed before the publish: refused by its journaled digest, nothing published.
        try? FileManager.default.removeItem(atPath: manifest.output)
        let handle = try #require(FileHandle(forWritingAtPath: placed[1].path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        #expect(throws: (any Error).self) { try EngineJobBackend().gather(manifest, job.prepared, shards: placed, kappas: job.kappas, fallback: job.fallback) }
        do { _ = try EngineJobBackend().gather(manifest, job.prepared, shards: placed, kappas: job.kappas, fallback: job.fallback) } catch {
            #expect("\(error)".contains("shard 1 at \(placed[1].path) has SHA-256"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: manifest.output))
        placement.remove()
        #expect(!FileManager.default.fileExists(atPath: VirtualBalancedDataset.shardDirectory(forOutput: manifest.output)))
    }

    /// A drift-guarded job: each worker builds the guard from every class (its own stage 1 over all of them), and
    /// the gathered file is the single-node bytes in both layouts.
    @Test(arguments: [(2, BalancedLayout.full), (3, .compact)])
    func guardedJobsGatherTheSingleNodeBytes(shardCount: Int, layout: BalancedLayout) throws {
        let policy = BalanceSettings(kappa: .fixed(40), seed: 4, driftGuard: 0.5, driftRetries: 2)
        let job = try Self.runJob(shardCount: shardCount, layout: layout, policy: policy)
        let backend = EngineJobBackend()
        if layout == .compact {
            // The probe class is drawn with the guard the coordinator rebuilds from the κ: the workers' digests match it.
            for (index, outcome) in job.outcomes.enumerated() {
                try backend.checkCompactShard(job.manifest, job.prepared, shard: index, contentSHA256: outcome.contentSHA256,
                                              syntheticProbeSHA256: outcome.syntheticProbeSHA256, kappas: job.kappas)
            }
        }
        let report = try backend.gather(job.manifest, job.prepared, shards: job.shards, kappas: job.kappas, fallback: job.fallback)
        let single = (job.directory as NSString).appendingPathComponent("single.h5")
        let summary = try BalanceRunner(input: job.manifest.input.spec(), outputPath: single, settings: policy, threads: 2, layout: layout).run()
        #expect(report.outputSHA256 == (try SHA256.hexDigest(ofFileAt: single)))
        if layout == .full { #expect((summary.driftGuard?.rejected ?? 0) > 0, "the small preset's classes overlap at κ 40") }
    }

    /// A compact job: workers write compact shards (real rows and κ, the probe class's digest) and report their
    /// digests; the coordinator checks each against its own derivation and writes the file single-node `balance
    /// --layout compact` writes, byte for byte, from the input and the κ — with no shard file on disk, so none
    /// is read; it materializes to the full file.
    @Test(arguments: [1, 3, 8])
    func aCompactGatherIsTheSingleNodeCompactBytesWithoutReadingAShard(shardCount: Int) throws {
        let job = try Self.runJob(shardCount: shardCount, layout: .compact)
        let fullRows = job.prepared.shards.joined().reduce(0) { $0 + $1.keptCount }
        #expect(job.outcomes.allSatisfy { $0.path == nil && $0.sha256.count == 64 && $0.byteCount > 0 }, "hashed in memory")
        #expect(try FileManager.default.contentsOfDirectory(atPath: job.directory).allSatisfy { !$0.contains("-shard-") }, "no shard file is left")
        let backend = EngineJobBackend()
        for (index, outcome) in job.outcomes.enumerated() {
            #expect(outcome.contentSHA256?.keys.sorted() == ["real_embeddings", "real_kappa", "real_labels", "real_source_index"])
            try backend.checkCompactShard(job.manifest, job.prepared, shard: index, contentSHA256: outcome.contentSHA256,
                                          syntheticProbeSHA256: outcome.syntheticProbeSHA256, kappas: job.kappas)
        }
        #expect(job.outcomes.compactMap(\.syntheticProbeSHA256).count == 1, "one shard holds the probe class")
        let report = try backend.gather(job.manifest, job.prepared, shards: job.shards, kappas: job.kappas, fallback: job.fallback)
        #expect(report.rows == fullRows)
        let single = (job.directory as NSString).appendingPathComponent("single.h5")
        let summary = try BalanceRunner(input: job.manifest.input.spec(), outputPath: single, settings: job.manifest.policy, threads: 2,
                                        layout: .compact).run()
        #expect(report.outputSHA256 == (try SHA256.hexDigest(ofFileAt: single)))
        #expect(report.outputContentSHA256 == summary.outputContentSHA256 && BalancedContentDigest.problem(in: report.outputContentSHA256!) == nil)
        let full = (job.directory as NSString).appendingPathComponent("full.h5"), materialized = (job.directory as NSString).appendingPathComponent("m.h5")
        _ = try BalanceRunner(input: job.manifest.input.spec(), outputPath: full, settings: job.manifest.policy, threads: 2).run()
        _ = try CompactMaterializer(input: job.manifest.output, output: materialized).run()
        #expect(try SHA256.hexDigest(ofFileAt: materialized) == SHA256.hexDigest(ofFileAt: full))
    }

    /// A compact shard's file is built in memory, never on disk: its SHA-256 and size (the resolved manifest's
    /// `shards[].sha256` and `bytes`) are those of the file a release writing shards to disk wrote, hashed and
    /// deleted — recorded from it (main at 8433de3) for tool version 0.2.0, and re-recorded for 0.3.0 (the files
    /// record the version, and the probe class's shard the digest of its synthetic rows, which the new normal
    /// stream changes; sizes unchanged) — and a worker
    /// needs no writable shard directory for it (there the release before failed).
    @Test func compactShardsAreHashedInMemoryWithTheDigestsTheirFilesHad() throws {
        try withTemporaryDirectory("not-a-directory") { scratch in
            let blocker = scratch + "/blocker"  // a file where the shard directory's parent should be
            #expect(FileManager.default.createFile(atPath: blocker, contents: Data()))
            let job = try Self.runJob(shardCount: 3, layout: .compact, shardDirectory: blocker + "/shards")
            #expect(ToolVersion.current == "0.3.0", "the recorded digests below are of files that record tool version 0.3.0")
            #expect(job.outcomes.map(\.sha256) == ["0c54ba761f88a1e1d5b1a95128f6fb00fcfca7cf00629b72a91750046f229c17",
                                                    "8556dea3aa85618da7b9bece59191f4515ebc45ea7a04091a2e2dc8db05d73b7",
                                                    "0f8319ea057f737a58a4dc60575d3d427d8aa3653471c14be5043e506e757af6"])
            #expect(job.outcomes.map(\.byteCount) == [117_383, 140_269, 142_843])
            #expect(job.outcomes.allSatisfy { $0.path == nil })
        }
    }

    /// A compact shard computed with other κ, another seed or a forged probe digest is refused by the
    /// coordinator's derivation, naming the dataset, without its file; an honest one passes in any order.
    @Test func aCompactShardWhoseDigestsDifferFromTheDerivationIsRefused() throws {
        let job = try Self.runJob(shardCount: 3, layout: .compact)
        let backend = EngineJobBackend()
        func check(_ index: Int, content: [String: String]?, probe: String?, kappas: [[Float]]? = nil) throws {
            try backend.checkCompactShard(job.manifest, job.prepared, shard: index, contentSHA256: content, syntheticProbeSHA256: probe,
                                          kappas: kappas ?? job.kappas)
        }
        let probeShard = try #require(job.outcomes.firstIndex { $0.syntheticProbeSHA256 != nil })
        let other = (probeShard + 1) % 3
        for index in [2, 0, 1] { try check(index, content: job.outcomes[index].contentSHA256, probe: job.outcomes[index].syntheticProbeSHA256) }

        var forged = try #require(job.outcomes[other].contentSHA256)
        forged["real_embeddings"] = String(repeating: "0", count: 64)
        #expect { try check(other, content: forged, probe: nil) } throws: { "\($0)".contains("/real_embeddings has digest 0000") }
        #expect { try check(other, content: nil, probe: nil) } throws: { "\($0)".contains("(none reported)") }
        #expect { try check(probeShard, content: job.outcomes[probeShard].contentSHA256, probe: String(repeating: "1", count: 64)) } throws: {
            "\($0)".contains("synthetic rows has digest 1111")
        }
        // κ the coordinator holds that differ from the ones the worker drew with: the real κ dataset disagrees.
        var otherKappas = job.kappas
        otherKappas[other] = otherKappas[other].map { $0 * 2 }
        #expect { try check(other, content: job.outcomes[other].contentSHA256, probe: nil, kappas: otherKappas) } throws: {
            "\($0)".contains("/real_kappa")
        }
    }

    @Test func aMissingShardIsNeverPublished() throws {
        let job = try Self.runJob(shardCount: 3)
        try FileManager.default.removeItem(atPath: job.shards[1].path)
        #expect {
            try EngineJobBackend().gather(job.manifest, job.prepared, shards: job.shards, kappas: job.kappas, fallback: job.fallback)
        } throws: { error in
            guard case .missingShard(let shard, _)? = error as? ClusterJobError else { return false }
            return shard == 1
        }
        #expect(!FileManager.default.fileExists(atPath: job.manifest.output))
    }

    @Test func aShardWhoseBytesChangedIsRefused() throws {
        let job = try Self.runJob(shardCount: 2)
        var shards = job.shards
        shards[0].sha256 = String(repeating: "0", count: 64)
        #expect {
            try EngineJobBackend().gather(job.manifest, job.prepared, shards: shards, kappas: job.kappas, fallback: job.fallback)
        } throws: { error in
            guard case .shardDigestMismatch(let shard, _, _, let actual)? = error as? ClusterJobError else { return false }
            return shard == 0 && actual == job.shards[0].sha256
        }
        #expect(!FileManager.default.fileExists(atPath: job.manifest.output))
    }

    @Test func aJobPinnedToAnotherInputDigestIsRefused() throws {
        try withTemporaryDirectory("engine-backend") { directory in
            let input = try SyntheticPreset.small.write(to: directory, seed: 2).train
            let pinned = String(repeating: "a", count: 64)
            let manifest = JobManifest(input: .init(path: input, sha256: pinned), output: directory + "/out.h5")
            #expect {
                try EngineJobBackend().prepare(manifest, shardCount: 2)
            } throws: { error in
                guard case .inputChanged(_, let expected, _)? = error as? ClusterJobError else { return false }
                return expected == pinned
            }
        }
    }

    @Test func shardPlanCoversEveryClassOnceWithBalancedCosts() throws {
        // Places-LT's class sizes: a few classes of thousands of rows and a long tail of a handful.
        let sizes = LongTailProfile.placesLT
        let plan = try BalancePlan(classSizes: sizes, settings: BalanceSettings())
        let (shards, costs) = ShardPlanner.shards(plan, dimension: 512, shardCount: 16)
        #expect(shards.count == 16)
        #expect(shards.flatMap { $0.map(\.classId) }.sorted() == Array(sizes.indices.filter { sizes[$0] > 0 }))
        for shard in shards { #expect(shard.map(\.classId) == shard.map(\.classId).sorted()) }
        // Greedy LPT: every shard is within one class's cost of the lightest one.
        let largest = plan.classes.map { ShardPlanner.cost($0, dimension: 512) }.max()!
        #expect(costs.max()! - costs.min()! <= largest)
        #expect(zip(shards, costs).allSatisfy { shard, cost in
            abs(shard.reduce(0) { $0 + ShardPlanner.cost(plan.classes[$1.classId], dimension: 512) } - cost) <= 1e-6 * cost
        })
    }

    @Test func moreShardsThanClassesGivesOneClassPerShard() throws {
        let plan = try BalancePlan(classSizes: [5, 0, 3], settings: BalanceSettings())
        let (shards, _) = ShardPlanner.shards(plan, dimension: 8, shardCount: 10)
        #expect(shards.map { $0.map(\.classId) } == [[0], [2]])
    }
}
