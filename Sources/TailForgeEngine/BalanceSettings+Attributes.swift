import TailForgeStorage

extension BalanceSettings {
    /// The settings a balanced file's root attributes record (``BalanceAttributes/make``), validated; throws
    /// naming the first attribute that is missing or does not parse.
    public init(attributes a: [String: AttributeValue]) throws(BalanceSettingsError) {
        func text(_ name: String) throws(BalanceSettingsError) -> String {
            guard let value = a[name]?.stringValue else { throw .invalid(setting: name, value: "\(a[name].map { "\($0)" } ?? "missing")", expected: "a string attribute") }
            return value
        }
        func number(_ name: String) throws(BalanceSettingsError) -> Double {
            guard let value = a[name]?.doubleValue else { throw .invalid(setting: name, value: "\(a[name].map { "\($0)" } ?? "missing")", expected: "a float64 attribute") }
            return value
        }
        func integer(_ name: String) throws(BalanceSettingsError) -> Int64 {
            guard let value = a[name]?.intValue else { throw .invalid(setting: name, value: "\(a[name].map { "\($0)" } ?? "missing")", expected: "an int64 attribute") }
            return value
        }
        let seed: UInt64
        switch a["seed"] {
        case .int(let value)? where value >= 0: seed = UInt64(value)
        case .string(let value)? where UInt64(value) != nil: seed = UInt64(value)!
        default: throw .invalid(setting: "seed", value: "\(a["seed"].map { "\($0)" } ?? "missing")", expected: "a non-negative integer")
        }
        guard let sampler = SamplerKind(rawValue: try text("sampler")) else {
            throw .invalid(setting: "sampler", value: try text("sampler"), expected: "vmf, gaussian, smote or none")
        }
        self.init(target: try TargetPolicy(parsing: try text("target_policy")), kappa: try KappaPolicy(parsing: try text("kappa_policy")),
                  sampler: sampler, seed: seed, kappaMin: try number("kappa_min"), kappaMax: try number("kappa_max"),
                  smoteNeighbours: Int(try integer("smote_k")), subsample: try integer("subsample") != 0,
                  driftGuard: a["drift_guard_threshold"] == nil ? nil : try number("drift_guard_threshold"),
                  driftRetries: a["drift_guard_retries"] == nil ? Self.defaultDriftRetries : Int(try integer("drift_guard_retries")))
        try validate()
    }
}
