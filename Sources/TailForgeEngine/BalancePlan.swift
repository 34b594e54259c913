/// What a balancing job will write, decided before any sample is drawn: for each class, how many real rows
/// it keeps and how many synthetic rows it gets, and where its rows start in the class-major output.
///
/// Output rows are class-major: for class 0, 1, …, C−1, its kept real rows (in input order), then its
/// synthetic rows. Every node of a cluster derives the same plan from the same labels and settings, so
/// shards can be gathered by class without coordination.
public struct BalancePlan: Sendable, Equatable, Codable {
    public struct ClassEntry: Sendable, Equatable, Codable {
        public var classId: Int
        /// Real rows in the input.
        public var realCount: Int
        /// Real rows written (less than `realCount` only when subsampling).
        public var keptCount: Int
        public var syntheticCount: Int
        /// First output row of this class.
        public var offset: Int

        public var outputCount: Int { keptCount + syntheticCount }
    }

    public var classes: [ClassEntry]
    public var target: Int
    public var totalRows: Int

    public var realRows: Int { classes.reduce(0) { $0 + $1.keptCount } }
    public var syntheticRows: Int { classes.reduce(0) { $0 + $1.syntheticCount } }

    /// Plans a job over classes of the given sizes (`classSizes[c]` real rows of class c; 0 for an empty class).
    /// Throws when the target policy asks for more rows per class than ``TargetPolicy/maximumRowsPerClass``.
    public init(classSizes: [Int], settings: BalanceSettings) throws(BalanceSettingsError) {
        target = try settings.target.resolve(classSizes: classSizes)
        var entries: [ClassEntry] = []
        var offset = 0
        for (c, n) in classSizes.enumerated() {
            var kept = n
            var synthetic = 0
            if n > 0 {
                if settings.sampler != .none, n < target { synthetic = target - n }
                if settings.subsample, n > target { kept = target }
            }
            entries.append(ClassEntry(classId: c, realCount: n, keptCount: kept, syntheticCount: synthetic, offset: offset))
            offset += kept + synthetic
        }
        classes = entries
        totalRows = offset
    }
}
