import TailForgeStorage

/// The root attributes of a balanced file. Single-node `balance` and the cluster's gather both call this, so
/// the two write the same bytes.
public enum BalanceAttributes {
    public static let format = "tailforge-balanced-v1"

    /// The attributes written when the file is created. `layout` is recorded as `layout`; a compact file also
    /// records `full_chunk_rows`, the chunking of the full file it stands for.
    public static func make(
        settings: BalanceSettings, input: InputSpec, inputSHA256: String, plan: BalancePlan,
        dimension: Int, fallbackKappa: Float?, layout: BalancedLayout = .full, fullChunkRows: Int = 4096
    ) -> [String: AttributeValue] {
        var a: [String: AttributeValue] = [
            BalancedLayout.attributeName: .string(layout.rawValue),
            "format": .string(format),
            "tool_version": .string(ToolVersion.current),
            "seed": settings.seed <= UInt64(Int64.max) ? .int(Int64(settings.seed)) : .string(String(settings.seed)),
            "sampler": .string(settings.sampler.rawValue),
            "kappa_policy": .string(settings.kappa.description),
            "target_policy": .string(settings.target.description),
            "target_rows": .int(Int64(plan.target)),
            "kappa_min": .double(settings.kappaMin),
            "kappa_max": .double(settings.kappaMax),
            "smote_k": .int(Int64(settings.smoteNeighbours)),
            "subsample": .int(settings.subsample ? 1 : 0),
            "input_sha256": .string(inputSHA256),
            "input_embeddings_dataset": .string(input.embeddingsDataset),
            "input_labels_dataset": .string(input.labelsDataset),
            "classes": .int(Int64(plan.classes.count)),
            "dimension": .int(Int64(dimension)),
            "real_rows": .int(Int64(plan.realRows)),
            "synthetic_rows": .int(Int64(plan.syntheticRows)),
        ]
        // Only when on: unguarded sets keep the attributes, hence the identity, they had before the guard existed.
        if let threshold = settings.driftGuard {
            a["drift_guard_threshold"] = .double(threshold)
            a["drift_guard_retries"] = .int(Int64(settings.driftRetries))
        }
        if let f = fallbackKappa { a["fallback_kappa"] = .double(Double(f)) }
        if layout == .compact { a["full_chunk_rows"] = .int(Int64(fullChunkRows)) }
        return a
    }

    /// The attributes written at commit, once every row is in: the set's identity (``BalancedSetIdentity``),
    /// the same for both layouts of one set.
    public static func identity(_ attributes: [String: AttributeValue], writer: BalancedDatasetWriter) -> [String: AttributeValue] {
        identity(attributes, realContent: writer.realContentDigests)
    }

    /// The identity attributes from the real rows' content digests (``BalancedContentHasher``): what a virtual
    /// publish, which writes no rows, records.
    public static func identity(_ attributes: [String: AttributeValue], realContent: [String: String]) -> [String: AttributeValue] {
        [BalancedSetIdentity.attributeName: .string(BalancedSetIdentity.digest(attributes: attributes, realContent: realContent))]
    }
}
