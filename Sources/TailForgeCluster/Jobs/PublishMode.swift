/// How a job publishes its full balanced file (manifest key `publish`).
public enum PublishMode: String, Codable, Sendable, CaseIterable {
    /// The coordinator copies every shard's rows into one self-contained file, byte-identical to single-node
    /// `balance`; works whatever disks the nodes share.
    case copy
    /// The output is a small HDF5 file of virtual datasets over the committed shard files, which the coordinator
    /// links (hard links; a copy across filesystems) into `OUT.shards/JOB/` beside it: no rows are copied, and
    /// the output reads only while that directory stays beside it (``PublishedShardDirectory``).
    case virtual
}
