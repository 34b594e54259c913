/// The OpenBLAS kernel families (``BLAS/coreName``: Haswell, SkylakeX, …) of the machines a training job's model
/// depends on: the trainer that drives L-BFGS (and writes the model, whose `blas_core` names its own family) and every
/// worker whose gradient or held-out tally the fit used.
///
/// Each worker computes its parts' partial sums with its own sgemm, and sgemm rounds differently per family, so when
/// these machines do not all share one family the model's bytes depend on which machine computed which part: the
/// same job elsewhere (a replay, or this cluster after a part moved) may take other L-BFGS steps. The coordinator
/// keeps one per training job for `status`, `wait` and its log, and records it in the resolved manifest
/// (`training.kernels`), where `replay` reads it to explain a model that differs.
///
/// A pure value: the coordinator reports who trains and who answered; it answers whether the machines now mix
/// families. JSON: `{"trainers": {FAMILY: [NAME…]}, "workers": {FAMILY: [NAME…]}}`.
public struct TrainingKernels: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The name the coordinator's own trainer goes by in `trainers`.
    public static let coordinator = "coordinator"
    /// The family of a worker that does not report one (a release before `hello.blasCore`).
    public static let unknown = "unknown"
    /// The family `status` and the warning tell operators to pin: every x86-64 machine with AVX2 and FMA runs it.
    public static let pinnedFamily = "Haswell"

    /// Who drove L-BFGS, by family: `coordinator`, or the worker `train.trainer` names (both after a take-over).
    public private(set) var trainers: [String: [String]]
    /// The workers whose gradient (or held-out tally) replies the trainer used, by family.
    public private(set) var workers: [String: [String]]

    public init(trainers: [String: [String]] = [:], workers: [String: [String]] = [:]) {
        self.trainers = trainers; self.workers = workers
    }

    /// The families the machines run, sorted, each spelled as first reported; ``unknown`` is left out (it may be any).
    /// OpenBLAS reads `OPENBLAS_CORETYPE` in any case, so names differing only in case are one family.
    public var families: [String] {
        var seen: [String: String] = [:]
        for family in (trainers.keys.sorted() + workers.keys.sorted()) where family != Self.unknown {
            if seen[family.lowercased()] == nil { seen[family.lowercased()] = family }
        }
        return seen.keys.sorted().map { seen[$0]! }
    }

    /// True when the machines do not all run one kernel family (machines of unknown family do not count: they may run
    /// any, and every coordinator since this field existed learns its workers' families).
    public var isMixed: Bool { families.count > 1 }

    /// Records that `name` drives the fit on `family`; true when this makes the machines mix families where they did
    /// not, or adds another family to a mix (the coordinator logs the warning then).
    @discardableResult
    mutating func trainer(_ name: String, family: String) -> Bool {
        add(name, family, to: \.trainers)
    }

    /// Records that worker `name`, on `family`, computed a reply the trainer used; true as for ``trainer(_:family:)``.
    @discardableResult
    mutating func computed(by name: String, family: String) -> Bool {
        add(name, family, to: \.workers)
    }

    private mutating func add(_ name: String, _ family: String, to machines: WritableKeyPath<TrainingKernels, [String: [String]]>) -> Bool {
        guard self[keyPath: machines][family]?.contains(name) != true else { return false }
        let before = families.count
        self[keyPath: machines][family, default: []].append(name)
        self[keyPath: machines][family]!.sort()
        return families.count > max(before, 1)
    }

    /// The machines by family, e.g. `Haswell: worker local0; SkylakeX: trainer coordinator, worker local1`.
    public var description: String {
        let all = Set(trainers.keys).union(workers.keys).sorted { $0.lowercased() < $1.lowercased() }
        return all.map { family in
            var names: [String] = []
            if let trainers = trainers[family], !trainers.isEmpty { names.append((trainers.count == 1 ? "trainer " : "trainers ") + trainers.joined(separator: ", ")) }
            if let workers = workers[family], !workers.isEmpty { names.append((workers.count == 1 ? "worker " : "workers ") + workers.joined(separator: ", ")) }
            return "\(family): " + names.joined(separator: ", ")
        }.joined(separator: "; ")
    }

    /// What `status`, `wait` and the coordinator's log say about a job whose machines mix families; nil when they do not.
    public var warning: String? {
        guard isMixed else { return nil }
        return "this training job's machines run different OpenBLAS kernel families (\(self)). Each worker computes its parts' "
            + "gradients with its own sgemm, which rounds differently per family, so the model's bytes depend on which machine "
            + "computed which part, and a replay elsewhere (or this job after a part moved) may train a different model. Pin one family: "
            + "set OPENBLAS_CORETYPE=\(Self.pinnedFamily) in the environment of the coordinator and of every worker daemon, restart them "
            + "and submit the job again (cluster/README.md, \"Reproducible bytes across machines\")"
    }
}
