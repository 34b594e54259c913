/// Why a replayed model's bytes may differ from the recorded model's: the two fits ran on different OpenBLAS kernel
/// families (or the recorded model does not say which it ran on).
///
/// sgemm rounds differently per kernel family (Haswell, SkylakeX, …), so the same training can take other
/// L-BFGS steps and write other bytes even when λ and τ agree. `tailforge` re-executes itself with the fastest
/// family the CPU supports, so two machines with different CPUs train on different families unless
/// `OPENBLAS_CORETYPE` pins one.
public struct BLASKernelMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The recorded model's `blas_core` attribute; nil when it has none (a model written before it was recorded,
    /// or a recorded model that could not be read).
    public var recorded: String?
    /// The kernel family the replay's fit ran on.
    public var replayed: String

    /// The mismatch between the recorded and the replayed kernel family, or nil when they are the same family.
    public static func between(recorded: String?, replayed: String) -> BLASKernelMismatch? {
        guard recorded?.lowercased() != replayed.lowercased() else { return nil }
        return BLASKernelMismatch(recorded: recorded, replayed: replayed)
    }

    public var description: String {
        guard let recorded else {
            return "the recorded model does not name its OpenBLAS kernel family (no blas_core attribute: trained by an older tailforge); "
                + "this replay trained on \(replayed). sgemm rounding differs between OpenBLAS kernel families, so a model is "
                + "bit-identical only on the same family: replay with the kernel of the machine that trained it "
                + "(OPENBLAS_CORETYPE=NAME, if this CPU supports it)"
        }
        return "the recorded model was trained on OpenBLAS kernel \(recorded), this replay on \(replayed). sgemm rounding differs "
            + "between OpenBLAS kernel families, so a model is bit-identical only on the same family: replay on a machine of the "
            + "\(recorded) family, or set OPENBLAS_CORETYPE=\(recorded) for the replay if this CPU supports it "
            + "(for a cluster replay, in the environment of the coordinator and every worker)"
    }
}
