import TailForgeNumerics

/// Spot verification of one job (`verify: spot`), as a pure state machine: accepted results go in, decisions
/// come out (accept, recompute elsewhere, settle with the workers that lied, or give up); the coordinator's loop
/// carries them out.
///
/// Every class's rows are a pure function of (input, settings, seed, class), so two honest workers return
/// byte-identical results for a shard. A seeded random sample of each stage's shards (`fraction` of them, at
/// least one) is computed twice, on two different workers, and the digests compared. Two results cannot say
/// which worker lied, so a mismatch is decided by a third worker: the result two workers agree on is accepted,
/// and the worker(s) that disagree with it are liars. Without a worker to ask, a first result is accepted
/// unverified (recorded as such) and a mismatch fails the job rather than commit either side.
///
/// The seed is drawn by the coordinator at submit, unknown to workers (so they cannot tell a checked shard from
/// an unchecked one), journaled (the same shards are checked after a restart) and recorded in the resolved
/// manifest.
struct SpotCheck: Equatable {
    /// One accepted (plan-checked) result of a selected shard.
    struct Result: Equatable {
        var worker: String
        /// `key FINGERPRINT` or `address IP`: what the logs and the exclusion name.
        var principal: String
        var sha256: String
        /// The stage-2 shard file (the coordinator deletes the copies it does not keep).
        var file: String?
        /// The stage-1 κ payload.
        var payload: [UInt8]?
    }

    /// What to do with a result (or a shard nobody else can recompute).
    enum Decision: Equatable {
        /// Accept this result: the shard was not selected, or could not be verified (`verified` false).
        case accept(Result, verified: Bool)
        /// Keep the result aside and compute the shard again on a worker not named in `avoid`.
        case recompute(avoid: Set<String>)
        /// Accept `winner` (two workers agree); `liars` returned something else; delete the files of `discard`.
        case settled(winner: Result, liars: [Result], discard: [Result])
        /// Three workers disagree, or two do and no third can decide: the job fails with this message.
        case undecidable(String)
    }

    /// One verification, for logs and the resolved manifest.
    struct Record: Equatable, Codable, Sendable {
        var stage: ShardStage
        var shard: Int
        /// Every worker that computed the shard, in order.
        var workers: [String]
        /// `agreed`, `liar: NAME…` or `unverified: no other worker`.
        var outcome: String

        /// As the journal and the resolved manifest write it.
        var check: ResolvedManifest.Verification.Check {
            .init(stage: stage.rawValue, shard: shard, workers: workers, outcome: outcome)
        }
    }

    let fraction: Double
    let seed: UInt64
    private(set) var selected: [ShardStage: Set<Int>] = [:]
    private(set) var pending: [Key: [Result]] = [:]
    private(set) var records: [Record] = []

    struct Key: Hashable {
        var stage: ShardStage
        var shard: Int
    }

    /// Results a decision needs before a mismatch is settled by majority.
    static let maximumResults = 3

    /// `records`: the checks an earlier life of the coordinator journaled with the results they accepted. Their
    /// shards resume done, so only a selected shard without a committed result reaches `accepted` (and is checked)
    /// again.
    init(fraction: Double, seed: UInt64, records: [Record] = []) {
        self.fraction = fraction
        self.seed = seed
        self.records = records
    }

    /// How many of `count` shards a fraction checks: none for 0, else at least one (a positive fraction of a
    /// small job must check something), rounded up.
    static func sampleSize(count: Int, fraction: Double) -> Int {
        guard fraction > 0, count > 0 else { return 0 }
        return min(count, max(1, Int((fraction * Double(count)).rounded(.up))))
    }

    /// Chooses the shards of `stage` (of `count`) to recompute: a seeded partial shuffle, so the same seed picks
    /// the same shards after a restart.
    mutating func select(_ stage: ShardStage, count: Int) {
        var indices = Array(0..<count)
        var rng = Xoshiro256PlusPlus(seed: seed, stream: stage == .concentrations ? 0 : 1)
        let k = Self.sampleSize(count: count, fraction: fraction)
        for i in 0..<k { indices.swapAt(i, i + Int(rng.next() % UInt64(count - i))) }
        selected[stage] = Set(indices.prefix(k))
    }

    func isSelected(_ stage: ShardStage, _ shard: Int) -> Bool { selected[stage]?.contains(shard) == true }

    /// The workers that already computed a selected shard whose verification is under way (a recomputation must
    /// avoid them); empty when none is.
    func avoid(_ stage: ShardStage, _ shard: Int) -> Set<String> {
        Set((pending[Key(stage: stage, shard: shard)] ?? []).map(\.worker))
    }

    /// A plan-checked result of `shard` arrived.
    mutating func accepted(_ stage: ShardStage, _ shard: Int, _ result: Result) -> Decision {
        guard isSelected(stage, shard) else { return .accept(result, verified: false) }
        let key = Key(stage: stage, shard: shard)
        var earlier = pending[key] ?? []
        if let match = earlier.first(where: { $0.sha256 == result.sha256 }) {
            pending[key] = nil
            let liars = earlier.filter { $0.sha256 != match.sha256 }
            records.append(Record(stage: stage, shard: shard, workers: (earlier + [result]).map(\.worker),
                                  outcome: liars.isEmpty ? "agreed" : "liar: " + liars.map(\.worker).joined(separator: ", ")))
            return .settled(winner: match, liars: liars, discard: liars + [result])
        }
        earlier.append(result)
        guard earlier.count < Self.maximumResults else {
            pending[key] = nil
            records.append(Record(stage: stage, shard: shard, workers: earlier.map(\.worker), outcome: "undecided"))
            return .undecidable(disagreement(stage, shard, earlier) + "; no two agree — check those machines (different builds or BLAS kernels give different bytes) and resubmit")
        }
        pending[key] = earlier
        return .recompute(avoid: Set(earlier.map(\.worker)))
    }

    /// No worker is left that has not computed the selected `shard` (all others excluded, quarantined or gone).
    mutating func noOtherWorker(_ stage: ShardStage, _ shard: Int) -> Decision? {
        let key = Key(stage: stage, shard: shard)
        guard let earlier = pending[key], !earlier.isEmpty else { return nil }
        pending[key] = nil
        if earlier.count == 1 {
            records.append(Record(stage: stage, shard: shard, workers: [earlier[0].worker], outcome: Self.unverifiedOutcome))
            return .accept(earlier[0], verified: false)
        }
        records.append(Record(stage: stage, shard: shard, workers: earlier.map(\.worker), outcome: "undecided"))
        return .undecidable(disagreement(stage, shard, earlier) + "; no third worker is available to decide which is honest")
    }

    /// What `status` reports: the checks so far, and `excluded` (the job's excluded workers, as named).
    func summary(excluded: [String]) -> SpotSummary {
        SpotSummary(confirmed: records.filter { $0.outcome == "agreed" || $0.outcome.hasPrefix("liar: ") }.count,
                    unverified: records.filter { $0.outcome == Self.unverifiedOutcome }.count, excluded: excluded)
    }

    /// The outcome of a check decided without a second worker.
    static let unverifiedOutcome = "unverified: no other worker"

    /// Drops every pending result of `worker` (found lying elsewhere); returns them, for their files.
    mutating func forget(worker: String) -> [Result] {
        var dropped: [Result] = []
        for (key, results) in pending {
            dropped += results.filter { $0.worker == worker }
            let kept = results.filter { $0.worker != worker }
            pending[key] = kept.isEmpty ? nil : kept
        }
        return dropped
    }

    private func disagreement(_ stage: ShardStage, _ shard: Int, _ results: [Result]) -> String {
        "spot verification of \(stage.rawValue) of shard \(shard): workers " + results.map { "\($0.worker) (\($0.principal)) returned \($0.sha256.prefix(16))…" }.joined(separator: ", ")
    }
}

extension SpotCheck.Record {
    /// A check as the journal wrote it; nil for a stage this release does not know.
    init?(_ check: ResolvedManifest.Verification.Check) {
        guard let stage = ShardStage(rawValue: check.stage) else { return nil }
        self.init(stage: stage, shard: check.shard, workers: check.workers, outcome: check.outcome)
    }
}
