/// How a training job's balanced set is cut into the parts workers serve: contiguous global row ranges whose
/// boundaries fall on multiples of the block size, so every block the single-node trainer sums lies inside one
/// part and each part's exact partial sums are the single-node trainer's for those blocks.
public enum TrainingPartition {
    /// Rows per block, as `tailforge train` uses: the model records it and must match for the same bytes.
    public static let blockRows = 1024

    /// `count` parts of `totalRows` rows (fewer when there are fewer blocks), as equal as whole blocks allow.
    public static func parts(totalRows: Int, count: Int, blockRows: Int = blockRows) -> [Range<Int>] {
        guard totalRows > 0 else { return [] }
        let blocks = (totalRows + blockRows - 1) / blockRows
        let parts = max(1, min(count, blocks))
        return (0..<parts).map { p in
            let first = blocks * p / parts * blockRows, end = min(totalRows, blocks * (p + 1) / parts * blockRows)
            return first ..< end
        }
    }
}
