/// Why a replayed model's bytes may differ from the recorded model's: the two fits ran on different OpenBLAS kernel
/// families, one of them on machines of several families, or the recorded model does not say which it ran on.
///
/// sgemm rounds differently per kernel family (Haswell, SkylakeX, …), so the same training can take other
/// L-BFGS steps and write other bytes even when λ and τ agree. `tailforge` re-executes itself with the fastest
/// family the CPU supports, so two machines with different CPUs train on different families unless
/// `OPENBLAS_CORETYPE` pins one. In a cluster job the workers' sgemm computes the gradients, so the families of
/// every machine count (the resolved manifest's `training.kernels`), not only the trainer's (`blas_core`).
public struct BLASKernelMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The recorded model's `blas_core` attribute; nil when it has none (a model written before it was recorded,
    /// or a recorded model that could not be read).
    public var recorded: String?
    /// The kernel family the replay's fit ran on (its trainer's).
    public var replayed: String
    /// The recorded job's machines by family (its resolved manifest's `training.kernels`); nil when not recorded.
    public var recordedMachines: TrainingKernels?
    /// A cluster replay's machines by family (the rerun's resolved manifest); nil for a local replay.
    public var replayedMachines: TrainingKernels?

    public init(recorded: String?, replayed: String, recordedMachines: TrainingKernels? = nil, replayedMachines: TrainingKernels? = nil) {
        self.recorded = recorded; self.replayed = replayed; self.recordedMachines = recordedMachines; self.replayedMachines = replayedMachines
    }

    /// The mismatch between the recorded and the replayed fit's kernel families, or nil when both ran on one and the
    /// same family (then the kernel is not the explanation).
    public static func between(recorded: String?, replayed: String, recordedMachines: TrainingKernels? = nil,
                               replayedMachines: TrainingKernels? = nil) -> BLASKernelMismatch? {
        let mismatch = BLASKernelMismatch(recorded: recorded, replayed: replayed, recordedMachines: recordedMachines, replayedMachines: replayedMachines)
        guard let recorded else { return mismatch }
        let recordedFamilies = Self.families(recorded, recordedMachines), replayedFamilies = Self.families(replayed, replayedMachines)
        return recordedFamilies.count == 1 && recordedFamilies == replayedFamilies ? nil : mismatch
    }

    /// The families one fit ran on, lowercased: its trainer's and, when recorded, every machine's.
    private static func families(_ trainer: String, _ machines: TrainingKernels?) -> Set<String> {
        Set([trainer.lowercased()] + (machines?.families ?? []).map { $0.lowercased() })
    }

    public var description: String {
        let why = "sgemm rounding differs between OpenBLAS kernel families, so a model is bit-identical only on the same family"
        guard let recorded else {
            return "the recorded model does not name its OpenBLAS kernel family (no blas_core attribute: trained by an older tailforge); "
                + "this replay trained on \(replayed). \(why): replay with the kernel of the machine that trained it "
                + "(OPENBLAS_CORETYPE=NAME, if this CPU supports it)"
        }
        let replayMachines = replayedMachines.map { " (\($0))" } ?? ""
        if let recordedMachines, recordedMachines.isMixed {
            return "the recorded job's machines ran different OpenBLAS kernel families (\(recordedMachines)); this replay ran on "
                + "\(replayedMachines?.families.joined(separator: " and ") ?? replayed)\(replayMachines). \(why), and the recorded model's "
                + "bytes depend on which machine computed which part, so a replay reproduces them only if every part is computed on its "
                + "recorded family again. Its training is still sound; for a model that replays, run the job with one family pinned: "
                + "OPENBLAS_CORETYPE=\(TrainingKernels.pinnedFamily) in the environment of the coordinator and every worker "
                + "(cluster/README.md, \"Reproducible bytes across machines\")"
        }
        let recordMachines = recordedMachines.flatMap { $0.description.isEmpty ? nil : $0.description }
        if let replayedMachines, replayedMachines.isMixed {
            return "the recorded model was trained on OpenBLAS kernel \(recorded)\(recordMachines.map { " (\($0))" } ?? ""), but this replay's machines ran "
                + "different families (\(replayedMachines)). \(why): set OPENBLAS_CORETYPE=\(recorded) in the environment of the "
                + "coordinator and every worker for the replay, if their CPUs support it"
        }
        return "the recorded model was trained on OpenBLAS kernel \(recorded), this replay on \(replayed)\(replayMachines)"
            + (recordMachines.map { "; the recorded job's machines: \($0)" } ?? "")
            + ". \(why): replay on a machine of the \(recorded) family, or set OPENBLAS_CORETYPE=\(recorded) for the replay if this CPU supports it "
            + "(for a cluster replay, in the environment of the coordinator and every worker)"
    }
}
