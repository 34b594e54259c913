import Foundation

/// Refuses a plan no worker could run before any shard is assigned: a class whose synthetic block would not fit
/// in a worker's memory (or whose size overflows), instead of crashing every worker that takes it.
enum PlanLimits {
    /// Why `prepared` cannot run on workers with `workerMemoryBytes` each, or nil when it can. A worker holds
    /// the job's input and, at least, the block of the largest class it synthesises (rows × dimension float32).
    static func refusal(_ prepared: PreparedJob, workerMemoryBytes: Int64) -> String? {
        let dimension = Int64(max(1, prepared.dimension))
        for shard in prepared.shards {
            for task in shard {
                let rows = Int64(task.outputCount)
                let (values, overflowA) = rows.multipliedReportingOverflow(by: dimension)
                let (bytes, overflowB) = values.multipliedReportingOverflow(by: 4)
                let (total, overflowC) = bytes.addingReportingOverflow(prepared.inputBytes)
                guard !overflowA, !overflowB, !overflowC, rows >= 0 else {
                    return "class \(task.classId) would need \(rows) output rows of dimension \(dimension): the size overflows; lower the target"
                }
                if total > workerMemoryBytes {
                    return "class \(task.classId) needs \(format(total)) on a worker (\(rows) rows × \(dimension) float32 values plus the \(format(prepared.inputBytes)) input), "
                        + "more than the workers' \(format(workerMemoryBytes)) (coordinator --worker-memory-bytes); lower the target or raise the bound"
                }
            }
        }
        return nil
    }

    /// The largest shard file a worker may report for `classes` (its declared size is what the coordinator
    /// fetches and stores): each row's float32 embedding plus its label, flag, source index and κ (17 bytes),
    /// a quarter more for HDF5's chunk indices, plus 16 MiB for attributes and class names.
    static func maximumShardFileBytes(_ classes: [ClassTask], dimension: Int) -> Int64 {
        let rows = classes.reduce(0.0) { $0 + Double(max(0, $1.outputCount)) }
        let bytes = rows * (Double(max(1, dimension)) * 4 + 17) * 1.25 + Double(16 << 20)
        return bytes >= Double(Int64.max) ? Int64.max : Int64(bytes)
    }

    static func format(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}
