import TailForgeEngine

/// Cuts a job's classes into shards of similar estimated cost, greedily (longest processing time first).
///
/// A class costs n_c²·d for its exact nearest-neighbour search plus s_c·d for drawing its s_c synthetic rows,
/// so a few large classes dominate Places-LT-shaped inputs and are spread first.
public enum ShardPlanner {
    /// Estimated relative cost of one class.
    public static func cost(_ entry: BalancePlan.ClassEntry, dimension: Int) -> Double {
        let n = Double(entry.realCount), d = Double(dimension)
        return n * n * d + Double(entry.syntheticCount) * d
    }

    /// At most `shardCount` non-empty shards covering every non-empty class once, each in ascending class
    /// order, with their estimated costs. Deterministic: ties go to the lower class id and the lower shard.
    public static func shards(_ plan: BalancePlan, dimension: Int, shardCount: Int) -> (shards: [[ClassTask]], costs: [Double]) {
        let classes = plan.classes.filter { $0.realCount > 0 }
        let count = max(1, min(shardCount, classes.count))
        let order = classes.sorted { (cost($0, dimension: dimension), -$0.classId) > (cost($1, dimension: dimension), -$1.classId) }
        var loads = [Double](repeating: 0, count: count)
        var members = [[BalancePlan.ClassEntry]](repeating: [], count: count)
        for entry in order {
            // Linear scan: shard counts are tens, not thousands.
            var lightest = 0
            for s in 1..<count where loads[s] < loads[lightest] { lightest = s }
            loads[lightest] += cost(entry, dimension: dimension)
            members[lightest].append(entry)
        }
        let shards = members.map { entries in
            entries.sorted { $0.classId < $1.classId }.map {
                ClassTask(classId: $0.classId, realCount: $0.realCount, keptCount: $0.keptCount, syntheticCount: $0.syntheticCount)
            }
        }
        return (shards.filter { !$0.isEmpty }, zip(shards, loads).filter { !$0.0.isEmpty }.map(\.1))
    }
}
