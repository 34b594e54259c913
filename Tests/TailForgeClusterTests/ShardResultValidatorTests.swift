import Foundation
import Testing
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeCluster

/// Each kind of forged shard result is refused with the row and the reason; honest full-layout results pass (a
/// compact job's shard files are never read: ``EngineBackendTests`` covers its digest checks).
@Suite struct ShardResultValidatorTests {
    /// An honest shard of three classes (5, 2 and 1 real rows, d = 6, local κ, vMF) computed by the engine itself.
    struct Honest {
        var validator: ShardResultValidator
        var columns: ShardResultValidator.Columns
        var embeddings: [Float]
        /// The synthesis κ the coordinator would send (fallback substituted).
        var kappas: [Float]
        var stageOne: [Float]

        func check() throws(ShardResultError) {
            let rows = embeddings, d = validator.dimension
            try validator.checkRows(columns, kappas: kappas) { range in Array(rows[min(rows.count, range.lowerBound * d)..<min(rows.count, range.upperBound * d)]) }
        }
    }

    /// `driftGuard`: a guard no synthetic row passes and no redraw rounds, so every synthetic slot becomes a copy of
    /// its seed (κ 0), as a real guard does to a slot it rejected in every round.
    static func honest(sampler: SamplerKind = .vmf, kappa: KappaPolicy = .local,
                       driftGuard: Bool = false) throws -> Honest {
        let sizes = [5, 2, 1], d = 6
        var rng = Xoshiro256PlusPlus(seed: 7, stream: 0)
        // Rows of the three classes interleaved, so a class's input rows are not contiguous.
        let labels: [Int32] = [0, 1, 0, 2, 0, 1, 0, 0]
        var storage: [Float] = []
        for _ in labels {
            let row = (0..<d).map { _ in Float.random(in: -1...1, using: &rng) }
            let norm = Float(row.reduce(0) { $0 + Double($1 * $1) }.squareRoot())
            storage += row.map { $0 / norm }
        }
        let input = BalanceInput(normalizedEmbeddings: Matrix(rows: labels.count, columns: d, storage: storage), labels: labels, classCount: 3)
        let settings = BalanceSettings(kappa: kappa, sampler: sampler, seed: 11, driftGuard: driftGuard ? 0.999_999 : nil, driftRetries: 0)
        let plan = try BalancePlan(classSizes: sizes, settings: settings)
        var perClass = sizes.indices.map { ConcentrationEstimator.concentrations(classRows: input.rows(ofClass: $0), settings: settings) }
        let stageOne = perClass.flatMap { $0 }
        _ = try ConcentrationEstimator.applyFallback(&perClass, policy: kappa, file: "test")
        let guardAll = DriftGuard(data: input, kappas: perClass, plan: plan, settings: settings)
        let blocks = plan.classes.map { entry in
            BalanceEngine.synthesize(entry: entry, from: input, kappas: perClass[entry.classId], settings: settings, driftGuard: guardAll)
        }
        let tasks = plan.classes.map { ClassTask(classId: $0.classId, realCount: $0.realCount, keptCount: $0.keptCount, syntheticCount: $0.syntheticCount) }
        let validator = ShardResultValidator(classes: tasks, settings: settings, dimension: d, members: input.classMembers)
        let columns = ShardResultValidator.Columns(labels: blocks.flatMap { Array(repeating: Int32($0.classId), count: $0.count) },
                                                   isSynthetic: blocks.flatMap(\.isSynthetic),
                                                   sourceIndex: blocks.flatMap(\.sourceIndex), kappa: blocks.flatMap(\.kappa))
        return Honest(validator: validator, columns: columns, embeddings: blocks.flatMap(\.embeddings.storage),
                      kappas: perClass.flatMap { $0 }, stageOne: stageOne)
    }

    /// The first synthetic row of the full honest shard (class 1's third row: 5 rows of class 0, then 2 real).
    static let syntheticRow = 7

    @Test(arguments: [SamplerKind.vmf, .smote, .gaussian])
    func honestResultsOfEverySamplerPass(sampler: SamplerKind) throws {
        let honest = try Self.honest(sampler: sampler)
        try honest.check()
        try honest.validator.checkConcentrations(honest.stageOne)
        #expect(honest.stageOne.contains { $0.isNaN }, "the one-row class is left for the fallback, and that is honest")
    }

    @Test(arguments: [SamplerKind.vmf, .gaussian, .smote])
    func aDriftGuardedShardWhoseSlotsBecameSeedCopiesPasses(sampler: SamplerKind) throws {
        let honest = try Self.honest(sampler: sampler, driftGuard: true)
        #expect(honest.columns.kappa[Self.syntheticRow] == 0, "the guard rejected every draw: the slot is a seed copy")
        try honest.check()
        // κ 0 is a seed copy's only: a guarded synthetic row with another κ than the one sent is still refused.
        var other = honest
        other.columns.kappa[Self.syntheticRow] = Float(other.validator.settings.kappaMin) + 1
        #expect(throws: ShardResultError.self) { try other.check() }
    }

    @Test func nanRowsAreRefused() throws {
        var honest = try Self.honest()
        let d = honest.validator.dimension
        for i in 0..<d { honest.embeddings[Self.syntheticRow * d + i] = .nan }
        #expect(throws: ShardResultError.nonFinite(row: Self.syntheticRow)) { try honest.check() }
    }

    @Test func anAllNaNShardWithTheRightLabelsIsRefusedAtItsFirstRow() throws {
        var honest = try Self.honest()
        honest.embeddings = honest.embeddings.map { _ in .nan }
        #expect(throws: ShardResultError.nonFinite(row: 0)) { try honest.check() }
    }

    @Test func rowsOffTheUnitSphereAreRefused() throws {
        var honest = try Self.honest()
        let d = honest.validator.dimension
        for i in 0..<d { honest.embeddings[3 * d + i] *= 1.01 }
        #expect { try honest.check() } throws: { error in
            guard case .notUnitLength(let row, let norm)? = error as? ShardResultError else { return false }
            return row == 3 && abs(norm - 1.01) < 1e-4
        }
        // Within the stated tolerance (float32 rounding of an honest row is ~1e-7 per coordinate) it passes.
        var rounded = try Self.honest()
        for i in 0..<d { rounded.embeddings[3 * d + i] *= 1 + 1e-5 }
        try rounded.check()
    }

    @Test func aWrongLabelIsRefused() throws {
        var honest = try Self.honest()
        honest.columns.labels[6] = 0
        #expect(throws: ShardResultError.label(row: 6, found: 0, expected: 1)) { try honest.check() }
    }

    @Test func aSyntheticRowPosingAsRealIsRefused() throws {
        var honest = try Self.honest()
        honest.columns.isSynthetic[Self.syntheticRow] = 0
        #expect(throws: ShardResultError.syntheticFlag(row: Self.syntheticRow, found: 0, expected: 1)) { try honest.check() }
    }

    @Test func kappaOutsideTheClampRangeOrNotTheOneSentIsRefused() throws {
        var high = try Self.honest()
        high.columns.kappa[Self.syntheticRow] = 1e9
        #expect { try high.check() } throws: { error in
            guard case .kappa(let row, _, let reason)? = error as? ShardResultError else { return false }
            return row == Self.syntheticRow && reason.contains("clamp range")
        }
        var infinite = try Self.honest()
        infinite.columns.kappa[0] = .infinity
        #expect { try infinite.check() } throws: { error in
            guard case .kappa(0, _, let reason)? = error as? ShardResultError else { return false }
            return reason.contains("not finite")
        }
        // In range, but not what the coordinator derived for that row's source.
        var other = try Self.honest()
        other.columns.kappa[Self.syntheticRow] = Float(other.validator.settings.kappaMin) + 1
        #expect { try other.check() } throws: { error in
            guard case .kappa(Self.syntheticRow, _, let reason)? = error as? ShardResultError else { return false }
            return reason.contains("the κ the plan gives")
        }
        // A real row of a full shard records no κ.
        var real = try Self.honest()
        real.columns.kappa[0] = real.kappas[0]
        #expect(throws: ShardResultError.self) { try real.check() }
    }

    @Test func provenanceOutsideTheClassIsRefused() throws {
        // Input row 1 is class 1's: not a seed class 0 can name.
        var synthetic = try Self.honest()
        synthetic.columns.sourceIndex[Self.syntheticRow] = 3  // class 2's only row
        #expect(throws: ShardResultError.provenance(row: Self.syntheticRow, source: 3, classId: 1)) { try synthetic.check() }
        var beyond = try Self.honest()
        beyond.columns.sourceIndex[0] = 1_000
        #expect(throws: ShardResultError.provenance(row: 0, source: 1_000, classId: 0)) { try beyond.check() }
        // Real rows in another order (or one twice) are not the plan's kept rows.
        var repeated = try Self.honest()
        repeated.columns.sourceIndex[1] = repeated.columns.sourceIndex[0]
        #expect(throws: ShardResultError.provenance(row: 1, source: repeated.columns.sourceIndex[0], classId: 0)) { try repeated.check() }
    }

    @Test func aWrongRowCountIsRefused() throws {
        var short = try Self.honest()
        short.columns.labels.removeLast()
        #expect { try short.check() } throws: { error in
            guard case .rowCount(let what, let expected, let actual)? = error as? ShardResultError else { return false }
            return what == "labels" && actual == expected - 1
        }
        var fewerRows = try Self.honest()
        fewerRows.embeddings.removeLast(fewerRows.validator.dimension)
        #expect(throws: ShardResultError.self) { try fewerRows.check() }
    }

    @Test func stageOneKappasAreCheckedForCountFinitenessRangeAndPerClassPolicies() throws {
        let honest = try Self.honest()
        let validator = honest.validator
        #expect(throws: ShardResultError.rowCount(what: "κ values", expected: 8, actual: 7)) { try validator.checkConcentrations(Array(honest.stageOne.dropLast())) }
        var nan = honest.stageOne
        nan[0] = .nan  // class 0 has 5 rows: a κ can be estimated, so NaN is a forgery
        #expect { try validator.checkConcentrations(nan) } throws: { error in
            guard case .kappa(0, _, let reason)? = error as? ShardResultError else { return false }
            return reason.contains("not finite")
        }
        var low = honest.stageOne
        low[1] = 0.5
        #expect { try validator.checkConcentrations(low) } throws: { error in
            guard case .kappa(1, _, let reason)? = error as? ShardResultError else { return false }
            return reason.contains("clamp range")
        }
        let classwise = try Self.honest(kappa: .classwise)
        try classwise.validator.checkConcentrations(classwise.stageOne)
        var split = classwise.stageOne
        split[1] = split[0] == 2 ? 3 : 2
        #expect { try classwise.validator.checkConcentrations(split) } throws: { error in
            guard case .kappa(1, _, let reason)? = error as? ShardResultError else { return false }
            return reason.contains("per-class policy")
        }
    }

    // MARK: - Files, through the engine backend

    /// Full shards only: a compact shard file is never read (its worker only hashes it, in memory); the backend
    /// checks its reported digests against its own derivation instead (``EngineBackendTests``).
    @Test(arguments: [BalancedLayout.full])
    func theBackendAcceptsEveryHonestShardFileAndRefusesAForgedOne(layout: BalancedLayout) throws {
        let job = try EngineBackendTests.runJob(shardCount: 3, layout: layout)
        defer { try? FileManager.default.removeItem(atPath: job.directory) }
        let backend = EngineJobBackend()
        for (index, file) in job.shards.enumerated() {
            try backend.checkConcentrations(job.manifest, job.prepared, shard: index, kappas: job.stageOne[index])
            try backend.checkShard(job.manifest, job.prepared, shard: index, file: file, kappas: job.kappas[index])
        }
        // A digest that is not the file's.
        var wrongDigest = job.shards[0]
        wrongDigest.sha256 = String(repeating: "0", count: 64)
        #expect(throws: ShardResultError.digest(expected: wrongDigest.sha256, actual: job.shards[0].sha256)) {
            try backend.checkShard(job.manifest, job.prepared, shard: 0, file: wrongDigest, kappas: job.kappas[0])
        }
        // The forgery of issue 10: right labels, every embedding NaN, reported with its own (correct) digest.
        let forged = try Self.forge(job.shards[1].path, layout: layout, directory: job.directory)
        #expect(throws: ShardResultError.nonFinite(row: 0)) {
            try backend.checkShard(job.manifest, job.prepared, shard: 1, file: forged, kappas: job.kappas[1])
        }
        // κ that are not the ones the shard was sent.
        #expect(throws: ShardResultError.self) {
            try backend.checkShard(job.manifest, job.prepared, shard: 0, file: job.shards[0], kappas: job.kappas[1])
        }
    }

    /// A copy of the shard at `path` with every embedding NaN and everything else unchanged.
    static func forge(_ path: String, layout: BalancedLayout, directory: String) throws -> ShardFile {
        let forged = (directory as NSString).appendingPathComponent("forged-\(UUID().uuidString).h5")
        try FileManager.default.copyItem(atPath: path, toPath: forged)
        // In its own scope: the file is closed (and flushed) before its digest is taken.
        func overwrite() throws {
            let file = try HDF5File.open(path: forged, writable: true)
            let dataset = try file.openDataset(layout.rowDatasets.embeddings, rank: 2, elementClass: .float)
            try dataset.write([Float](repeating: .nan, count: dataset.shape[0] * dataset.shape[1]), rows: 0..<dataset.shape[0])
        }
        try overwrite()
        return ShardFile(path: forged, sha256: try SHA256.hexDigest(ofFileAt: forged))
    }
}
