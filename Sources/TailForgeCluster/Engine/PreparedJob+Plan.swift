import TailForgeEngine

/// The plan a prepared job was cut from, and per-shard values turned back into per-class ones: the gather, the
/// κ fallback and a training job's trainer all need the job seen class by class, not shard by shard.
extension PreparedJob {
    /// Real rows of each class, from the shards' tasks.
    var classSizes: [Int] {
        var sizes = [Int](repeating: 0, count: classCount)
        for task in shards.joined() { sizes[task.classId] = task.realCount }
        return sizes
    }

    /// The balancing plan of the job's classes under `settings` (the plan every worker computes from the input).
    func plan(_ settings: BalanceSettings) throws(ClusterJobError) -> BalancePlan {
        do throws(BalanceSettingsError) { return try BalancePlan(classSizes: classSizes, settings: settings) } catch { throw .settings(error) }
    }

    /// Values of every shard's real rows (class by class in shard order, as stage 1 returns κ) regrouped by class.
    func kappasByClass(_ perShard: [[Float]]) throws(ClusterJobError) -> [[Float]] {
        var byClass = [[Float]](repeating: [], count: classCount)
        for (shard, classes) in shards.enumerated() {
            let realRows = classes.reduce(0) { $0 + $1.realCount }
            let values = perShard.indices.contains(shard) ? perShard[shard] : []
            guard values.count == realRows else {
                throw .planMismatch(reason: "shard \(shard) returned \(values.count) κ values for \(realRows) real rows")
            }
            var start = 0
            for task in classes {
                byClass[task.classId] = Array(values[start ..< start + task.realCount])
                start += task.realCount
            }
        }
        return byClass
    }
}
