/// How much a job trusts its workers' results beyond the plan checks every result gets (manifest key `verify`).
public enum VerifyMode: String, Codable, Sendable, CaseIterable {
    /// Results that pass the plan checks (``ShardResultValidator``) are accepted as they are.
    case none
    /// A seeded random fraction of the shards (the coordinator's `--verify-fraction`) is recomputed on another
    /// worker and the digests compared (``SpotCheck``).
    case spot
}
