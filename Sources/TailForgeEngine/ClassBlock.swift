import TailForgeNumerics

/// One class's rows of a balanced output, in output order: its kept real rows, then its synthetic rows.
public struct ClassBlock: Sendable, Equatable {
    public var classId: Int
    public var embeddings: Matrix
    public var isSynthetic: [UInt8]
    /// For a real row its input row; for a synthetic row the input row of the real sample it was drawn around.
    public var sourceIndex: [Int64]
    /// κ used for a synthetic row; 0 for a real row (and for SMOTE rows, which use no κ, and for the drift guard's
    /// seed copies: a slot rejected in every round holds its seed row, a kernel of no width).
    public var kappa: [Float]

    /// What the drift guard did to this class's synthetic rows (nil when it was off).
    public var driftGuard: DriftGuardClassReport?

    public var count: Int { embeddings.rows }

    public init(classId: Int, embeddings: Matrix, isSynthetic: [UInt8], sourceIndex: [Int64], kappa: [Float],
                driftGuard: DriftGuardClassReport? = nil) {
        self.driftGuard = driftGuard
        precondition(isSynthetic.count == embeddings.rows && sourceIndex.count == embeddings.rows && kappa.count == embeddings.rows)
        self.classId = classId
        self.embeddings = embeddings
        self.isSynthetic = isSynthetic
        self.sourceIndex = sourceIndex
        self.kappa = kappa
    }
}
