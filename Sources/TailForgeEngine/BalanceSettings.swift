import Foundation

/// Everything that decides the bytes of a balanced output besides the input itself.
///
/// Encodes policies in their string forms (`max`, `median*2`, `local`, `fixed:500`) so manifests stay readable.
public struct BalanceSettings: Sendable, Equatable, Hashable, Codable {
    public var target: TargetPolicy
    public var kappa: KappaPolicy
    public var sampler: SamplerKind
    public var seed: UInt64
    /// κ is clamped to `kappaMin...kappaMax`. The upper bound is what keeps exact or near duplicates (r → 1,
    /// κ → ∞) finite; 1e6 at d = 768 is a mean cosine to the seed of about 0.9996.
    public var kappaMin: Double
    public var kappaMax: Double
    /// k for the `smote` sampler (capped by class size − 1).
    public var smoteNeighbours: Int
    /// Subsample classes larger than the target down to it (off by default: larger classes are kept whole).
    public var subsample: Bool
    /// The drift guard's posterior threshold (``DriftGuard``), nil when the guard is off: a synthetic row whose
    /// class posterior under the real-row vMF-KDEs of all classes is below it is redrawn.
    public var driftGuard: Double?
    /// Rounds of redraws for rows the drift guard rejects before such a slot takes a copy of its seed row.
    public var driftRetries: Int

    public static let defaultKappaMin = 1.0
    public static let defaultKappaMax = 1e6
    /// The drift guard's default threshold: a synthetic row must be more likely its own class's than all others'.
    public static let defaultDriftThreshold = 0.5
    public static let defaultDriftRetries = 10
    public static let maximumDriftRetries = 1_000

    public init(
        target: TargetPolicy = .max, kappa: KappaPolicy = .local, sampler: SamplerKind = .vmf, seed: UInt64 = 0,
        kappaMin: Double = BalanceSettings.defaultKappaMin, kappaMax: Double = BalanceSettings.defaultKappaMax,
        smoteNeighbours: Int = 5, subsample: Bool = false, driftGuard: Double? = nil,
        driftRetries: Int = BalanceSettings.defaultDriftRetries
    ) {
        self.driftGuard = driftGuard
        self.driftRetries = driftRetries
        self.target = target
        self.kappa = kappa
        self.sampler = sampler
        self.seed = seed
        self.kappaMin = kappaMin
        self.kappaMax = kappaMax
        self.smoteNeighbours = smoteNeighbours
        self.subsample = subsample
    }

    /// Checks every value, so settings built in code or decoded from a manifest meet the same ranges as flags.
    public func validate() throws(BalanceSettingsError) {
        let range = KappaPolicy.supportedRange
        let bounds = "from \(formatPolicyNumber(range.lowerBound)) to \(formatPolicyNumber(range.upperBound))"
        try target.validate()
        guard range.contains(kappaMin) else {
            throw .invalid(setting: "kappa-min", value: formatPolicyNumber(kappaMin), expected: "a number \(bounds)")
        }
        guard range.contains(kappaMax), kappaMax >= kappaMin else {
            throw .invalid(setting: "kappa-max", value: formatPolicyNumber(kappaMax),
                           expected: "a number \(bounds), at least --kappa-min (\(formatPolicyNumber(kappaMin)))")
        }
        guard (1...Self.maximumSmoteNeighbours).contains(smoteNeighbours) else {
            throw .invalid(setting: "smote-k", value: "\(smoteNeighbours)", expected: "an integer from 1 to \(Self.maximumSmoteNeighbours)")
        }
        if let p = driftGuard, !(p > 0 && p < 1) {
            throw .invalid(setting: "drift-threshold", value: formatPolicyNumber(p), expected: "a posterior strictly between 0 and 1")
        }
        guard (0...Self.maximumDriftRetries).contains(driftRetries) else {
            throw .invalid(setting: "drift-retries", value: "\(driftRetries)", expected: "an integer from 0 to \(Self.maximumDriftRetries)")
        }
        if case .fixed(let v) = kappa, !(kappaMin...kappaMax).contains(v) {
            throw .invalid(setting: "kappa", value: kappa.description,
                           expected: "a value within [kappa-min, kappa-max] = [\(formatPolicyNumber(kappaMin)), \(formatPolicyNumber(kappaMax))]")
        }
    }

    /// SMOTE interpolates towards one of k nearest neighbours; k is capped by the class size anyway, and a
    /// k beyond this is a typo (the neighbour search keeps k entries per row).
    public static let maximumSmoteNeighbours = 1_000

    enum CodingKeys: String, CodingKey {
        case target, kappa, sampler, seed
        case kappaMin = "kappa_min", kappaMax = "kappa_max", smoteNeighbours = "smote_k", subsample
        case driftGuard = "drift_guard", driftThreshold = "drift_threshold", driftRetries = "drift_retries"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = BalanceSettings()
        func parse<T>(_ key: CodingKeys, _ parser: (String) throws -> T, default value: T) throws -> T {
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return value }
            do { return try parser(text) } catch {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(error)")
            }
        }
        target = try parse(.target, { try TargetPolicy(parsing: $0) }, default: defaults.target)
        kappa = try parse(.kappa, { try KappaPolicy(parsing: $0) }, default: defaults.kappa)
        sampler = try parse(.sampler, { try SamplerKind(parsing: $0) }, default: defaults.sampler)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? defaults.seed
        kappaMin = try c.decodeIfPresent(Double.self, forKey: .kappaMin) ?? defaults.kappaMin
        kappaMax = try c.decodeIfPresent(Double.self, forKey: .kappaMax) ?? defaults.kappaMax
        smoteNeighbours = try c.decodeIfPresent(Int.self, forKey: .smoteNeighbours) ?? defaults.smoteNeighbours
        subsample = try c.decodeIfPresent(Bool.self, forKey: .subsample) ?? defaults.subsample
        let guarded = try c.decodeIfPresent(Bool.self, forKey: .driftGuard) ?? false
        let threshold = try c.decodeIfPresent(Double.self, forKey: .driftThreshold)
        driftGuard = guarded ? threshold ?? Self.defaultDriftThreshold : nil
        driftRetries = try c.decodeIfPresent(Int.self, forKey: .driftRetries) ?? defaults.driftRetries
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(target.description, forKey: .target)
        try c.encode(kappa.description, forKey: .kappa)
        try c.encode(sampler.rawValue, forKey: .sampler)
        try c.encode(seed, forKey: .seed)
        try c.encode(kappaMin, forKey: .kappaMin)
        try c.encode(kappaMax, forKey: .kappaMax)
        try c.encode(smoteNeighbours, forKey: .smoteNeighbours)
        try c.encode(subsample, forKey: .subsample)
        // Written only when on, so manifests and records of unguarded jobs keep their bytes.
        if let driftGuard {
            try c.encode(true, forKey: .driftGuard)
            try c.encode(driftGuard, forKey: .driftThreshold)
            try c.encode(driftRetries, forKey: .driftRetries)
        }
    }
}

/// A balancing setting that cannot be used, with what was expected instead.
public enum BalanceSettingsError: Error, Equatable, CustomStringConvertible {
    case invalid(setting: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .invalid(let setting, let value, let expected):
            "invalid --\(setting) '\(value)': expected \(expected)"
        }
    }
}
