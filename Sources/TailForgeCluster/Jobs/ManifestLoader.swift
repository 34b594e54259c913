import Foundation
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining
import Yams

/// Reads job manifests (YAML, or JSON, which YAML parses too) strictly: every key must be one of
/// `ManifestKeys` (an unknown or misspelt key or section is refused with the nearest known key), every value
/// must have its key's type and range, and errors are sentences naming the file, line, key and allowed values.
/// Relative paths are resolved against the manifest's directory, so `jobs/demo.yaml` works from anywhere.
public enum ManifestLoader {
    public static func load(path: String) throws(ManifestError) -> JobManifest {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            let reason = FileManager.default.fileExists(atPath: path)
                ? "cannot be read as UTF-8 text (\(error.localizedDescription))."
                : "does not exist; pass the path of a job manifest such as jobs/demo.yaml."
            throw ManifestError(source: path, reason: reason)
        }
        let base = (URL(fileURLWithPath: path).standardizedFileURL.path as NSString).deletingLastPathComponent
        return try parse(text, source: path, baseDirectory: base)
    }

    /// Parses manifest text; relative paths are resolved against `baseDirectory`.
    public static func parse(_ text: String, source: String, baseDirectory: String) throws(ManifestError) -> JobManifest {
        var reader = ManifestReader(source: source)
        var manifest = try reader.read(text)
        func absolute(_ p: String) -> String {
            URL(fileURLWithPath: p.hasPrefix("/") ? p : (baseDirectory as NSString).appendingPathComponent(p)).standardizedFileURL.path
        }
        manifest.input.path = absolute(manifest.input.path)
        manifest.output = absolute(manifest.output)
        if let shared = manifest.transfer.sharedShardDirectory { manifest.transfer.sharedShardDirectory = absolute(shared) }
        if let balanced = manifest.train?.balancedOutput { manifest.train?.balancedOutput = absolute(balanced) }
        do { try manifest.validate(source: source) } catch {
            var located = error
            located.line = error.key.flatMap { reader.lines[$0] }
            throw located
        }
        return manifest
    }
}

/// Walks the YAML node tree of one manifest, recording each key's line for later range errors.
struct ManifestReader {
    let source: String
    /// Line of each dotted key seen (`policy.seed` → 9).
    var lines: [String: Int] = [:]

    init(source: String) { self.source = source }

    func error(_ node: Node?, _ key: String?, _ reason: String) -> ManifestError {
        ManifestError(source: source, line: node?.mark?.line, key: key, reason: reason)
    }

    mutating func read(_ text: String) throws(ManifestError) -> JobManifest {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let error as YamlError {
            throw Self.describe(error, source: source)
        } catch {
            throw ManifestError(source: source, reason: "is not valid YAML or JSON: \(error)")
        }
        guard let root, !isNull(root) else {
            throw ManifestError(source: source, reason: "is empty; a manifest needs at least `input: {path: IN.h5}` and `output: OUT.h5` (see jobs/demo.yaml).")
        }
        let top = try mapping(root, section: "")

        guard let inputNode = top["input"], !isNull(inputNode) else {
            throw error(root, "input", "has no `input:` section; add `input:` with `path: IN.h5` (the input HDF5 file).")
        }
        let input = try mapping(inputNode, section: "input")
        guard let path = try string(input["path"], "input.path") else {
            throw error(inputNode, "input.path", "`input.path` is missing; it must be the path of the input HDF5 file.")
        }
        guard let output = try string(top["output"], "output") else {
            throw error(root, "output", "`output` is missing; it must be the path of the balanced output file, such as `out/balanced.h5`.")
        }
        var manifest = JobManifest(
            name: try string(top["name"], "name"),
            input: .init(path: path, sha256: try string(input["sha256"], "input.sha256"),
                         embeddingsDataset: try string(input["embeddings"], "input.embeddings"),
                         labelsDataset: try string(input["labels"], "input.labels"),
                         classNamesDataset: try string(input["class_names"], "input.class_names", allowEmpty: true),
                         classes: try integer(input["classes"], "input.classes", allowed: JobManifest.Limits.classes)),
            output: output, overwrite: try boolean(top["overwrite"], "overwrite"))
        if let scalar = try scalar(top["layout"], "layout", expected: "`full` or `compact`") {
            guard let layout = BalancedLayout(rawValue: scalar.string) else {
                throw error(top["layout"], "layout", "`layout` is \(shown(scalar)); it must be one of \(BalancedLayout.allCases.map(\.rawValue).joined(separator: ", "))"
                            + Spelling.hint(for: scalar.string, among: BalancedLayout.allCases.map(\.rawValue)) + ".")
            }
            manifest.layout = layout
        }
        if let scalar = try scalar(top["publish"], "publish", expected: "`copy` or `virtual`") {
            guard let publish = PublishMode(rawValue: scalar.string) else {
                let close = PublishMode.allCases.map(\.rawValue).first { ManifestKeys.editDistance(scalar.string.lowercased(), $0) <= 2 }
                throw error(top["publish"], "publish", "`publish` is \(shown(scalar)); it must be one of \(PublishMode.allCases.map(\.rawValue).joined(separator: ", "))"
                            + (close.map { " — did you mean `\($0)`?" } ?? "")
                            + " (copy: one self-contained file; virtual: a small file of HDF5 virtual datasets over the shard files, kept beside it in OUT.shards/).")
            }
            manifest.publish = publish
        }
        if let scalar = try scalar(top["verify"], "verify", expected: "`none` or `spot`") {
            guard let verify = VerifyMode(rawValue: scalar.string) else {
                throw error(top["verify"], "verify", "`verify` is \(shown(scalar)); it must be one of \(VerifyMode.allCases.map(\.rawValue).joined(separator: ", "))"
                            + Spelling.hint(for: scalar.string, among: VerifyMode.allCases.map(\.rawValue)) + " (spot: recompute a sample of the shards on other workers and compare).")
            }
            manifest.verify = verify
        }

        let policy = try mapping(top["policy"], section: "policy")
        let defaults = BalanceSettings()
        let kappaBounds = "a number from \(KappaPolicy.supportedRange.lowerBound) to \(KappaPolicy.supportedRange.upperBound)"
        manifest.policy = BalanceSettings(
            target: try parsed(policy["target"], "policy.target", TargetPolicy.init(parsing:)) ?? defaults.target,
            kappa: try parsed(policy["kappa"], "policy.kappa", KappaPolicy.init(parsing:)) ?? defaults.kappa,
            sampler: try parsed(policy["sampler"], "policy.sampler", SamplerKind.init(parsing:)) ?? defaults.sampler,
            seed: try seed(policy["seed"]) ?? defaults.seed,
            kappaMin: try number(policy["kappa_min"], "policy.kappa_min", allowed: kappaBounds) ?? defaults.kappaMin,
            kappaMax: try number(policy["kappa_max"], "policy.kappa_max", allowed: kappaBounds + ", at least kappa_min") ?? defaults.kappaMax,
            smoteNeighbours: try integer(policy["smote_k"], "policy.smote_k", allowed: 1...BalanceSettings.maximumSmoteNeighbours) ?? defaults.smoteNeighbours,
            subsample: try boolean(policy["subsample"], "policy.subsample") ?? defaults.subsample,
            driftGuard: try boolean(policy["drift_guard"], "policy.drift_guard") == true
                ? try number(policy["drift_threshold"], "policy.drift_threshold", allowed: "a posterior strictly between 0 and 1")
                    ?? BalanceSettings.defaultDriftThreshold : nil,
            driftRetries: try integer(policy["drift_retries"], "policy.drift_retries", allowed: 0...BalanceSettings.maximumDriftRetries)
                ?? defaults.driftRetries)
        if manifest.policy.driftGuard == nil, let node = policy["drift_threshold"] ?? policy["drift_retries"] {
            throw error(node, "policy", "`policy.drift_threshold` and `policy.drift_retries` apply to the drift guard; add `drift_guard: true` to the policy or remove them.")
        }

        let sharding = try mapping(top["sharding"], section: "sharding")
        manifest.sharding = .init(
            shards: try integer(sharding["shards"], "sharding.shards", allowed: JobManifest.Limits.shards),
            maxAttempts: try integer(sharding["max_attempts"], "sharding.max_attempts", allowed: JobManifest.Limits.maxAttempts),
            shardTimeoutSeconds: try number(sharding["shard_timeout_seconds"], "sharding.shard_timeout_seconds",
                                            allowed: "a number of seconds from \(JobManifest.Limits.shardTimeoutSeconds.lowerBound) to \(Int(JobManifest.Limits.shardTimeoutSeconds.upperBound))"))

        let transfer = try mapping(top["transfer"], section: "transfer")
        manifest.transfer = .init(streamInput: try boolean(transfer["stream_input"], "transfer.stream_input"),
                                  sharedShardDirectory: try string(transfer["shared_shard_directory"], "transfer.shared_shard_directory"))
        manifest.train = try train(top["train"])
        return manifest
    }

    /// The `train:` section (nil when absent; `train: {}` trains with `tailforge train`'s defaults).
    mutating func train(_ node: Node?) throws(ManifestError) -> JobManifest.Train? {
        guard let node else { return nil }
        let train = try mapping(node, section: "train")
        var settings = TrainingSettings()
        let limits = JobManifest.Train.Limits.self
        let grid = try l2Grid(train)
        if grid == nil {
            settings.l2 = try number(train["l2"], "train.l2", allowed: "a number from 0 to 1e6 (larger penalties leave every weight at zero), or `auto`") ?? settings.l2
        }
        settings.optimizer.maxIterations = try integer(train["max_iterations"], "train.max_iterations", allowed: limits.maxIterations)
            ?? settings.optimizer.maxIterations
        settings.optimizer.gradientTolerance = try number(train["tolerance"], "train.tolerance",
                                                          allowed: "a fraction from 0 to below 1 of the initial gradient norm") ?? settings.optimizer.gradientTolerance
        settings.optimizer.lossTolerance = try number(train["loss_tolerance"], "train.loss_tolerance",
                                                      allowed: "a relative decrease from 0 to below 1") ?? settings.optimizer.lossTolerance
        if let scalar = try scalar(train["class_weight"], "train.class_weight", expected: "`none` or `balanced`") {
            guard let weighting = JobManifest.Train.classWeighting(scalar.string) else {
                throw error(train["class_weight"], "train.class_weight", "`train.class_weight` is \(shown(scalar)); it must be one of none, balanced"
                            + Spelling.hint(for: scalar.string, among: ["none", "balanced"]) + ".")
            }
            settings.classWeighting = weighting
        }
        let holdout = try number(train["calibration_holdout"], "train.calibration_holdout",
                                 allowed: "a fraction of each class's real rows from \(limits.calibrationHoldout.lowerBound) to \(limits.calibrationHoldout.upperBound)")
        let seed = try integer(train["calibration_seed"], "train.calibration_seed", allowed: 0 ... Int.max)
        var calibration: CalibrationSettings?
        let calibrate = try boolean(train["calibrate"], "train.calibrate") == true
        if calibrate || grid != nil {
            // As `train`: `--calibrate` searches τ, `--l2 auto` λ (τ stays 0 without `--calibrate`), on one hold-out.
            let defaults = CalibrationSettings()
            calibration = CalibrationSettings(holdOutFraction: holdout ?? defaults.holdOutFraction, seed: seed.map(UInt64.init) ?? defaults.seed,
                                              tauGrid: calibrate ? CalibrationSettings.standardGrid : [0], l2Grid: grid)
            if let first = grid?.first { settings.l2 = first }
        } else if holdout != nil || seed != nil {
            let key = holdout != nil ? "calibration_holdout" : "calibration_seed"
            throw error(train[key], "train.\(key)", "`train.\(key)` applies only with `calibrate: true` or `l2: auto` (as `--\(key.replacingOccurrences(of: "_", with: "-"))` only with `train --calibrate` or `--l2 auto`); add one of them or remove it.")
        }
        let trainer = try string(train["trainer"], "train.trainer")
        if let trainer, trainer.trimmingCharacters(in: .whitespaces).isEmpty {
            throw error(train["trainer"], "train.trainer", "`train.trainer` is empty; name a worker (its `tailforge worker --name`) or remove the key to train on the coordinator.")
        }
        return JobManifest.Train(settings: settings, balancedOutput: try string(train["balanced_output"], "train.balanced_output"),
                                 calibration: calibration, trainer: trainer)
    }

    /// The candidates of `l2: auto` (`train --l2 auto`), largest first: `l2_grid` as a list of numbers or as
    /// `--l2-grid`'s comma-separated text, checked by the same parser; nil for a fixed `l2`.
    func l2Grid(_ train: [String: Node]) throws(ManifestError) -> [Double]? {
        let scalar = try scalar(train["l2"], "train.l2", expected: "a number from 0 to 1e6, or `auto`")
        let automatic = scalar.map { $0.string == JobManifest.Train.automaticL2 } ?? false
        if let scalar, !automatic, Double.construct(from: scalar) == nil {
            let close = ManifestKeys.editDistance(scalar.string.lowercased(), JobManifest.Train.automaticL2) <= 2
            throw error(train["l2"], "train.l2", "`train.l2` is \(shown(scalar)); it must be a number from 0 to 1e6, or `auto` to choose λ on held-out real rows"
                        + (close ? " — did you mean `auto`?" : "."))
        }
        guard let node = train["l2_grid"], !isNull(node) else { return automatic ? CalibrationSettings.standardL2Grid : nil }
        guard automatic else {
            throw error(node, "train.l2_grid", "`train.l2_grid` lists the candidates of `l2: auto` (as `--l2-grid` those of `train --l2 auto`); "
                        + "write `l2: auto`, or remove `l2_grid` to train at the given `l2`.")
        }
        let text: String, written: String
        switch node {
        case .scalar(let scalar):
            text = scalar.string
            written = shown(scalar)
        case .sequence(let items):
            var values: [String] = []
            for item in items {
                guard case .scalar(let scalar) = item, scalar.style == .plain || scalar.style == .any else {
                    throw error(item, "train.l2_grid", "`train.l2_grid` must list plain numbers such as `[1e-4, 1e-5, 1e-6]`; \(describe(item)) is not one.")
                }
                values.append(scalar.string)
            }
            text = values.joined(separator: ",")
            written = "`[\(values.joined(separator: ", "))]`"
        default:
            throw error(node, "train.l2_grid", "`train.l2_grid` must be a list of numbers such as `[1e-4, 1e-5, 1e-6]`, not \(describe(node)).")
        }
        do { return try CalibrationSettings.l2Grid(parsing: text, option: "train.l2_grid") } catch {
            guard case .invalidSetting(_, _, let expected) = error else { throw self.error(node, "train.l2_grid", "`train.l2_grid`: \(error)") }
            throw self.error(node, "train.l2_grid", "`train.l2_grid` is \(written); it must be \(expected).")
        }
    }

    // MARK: - Nodes

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) }
        return false
    }

    func dotted(_ section: String, _ key: String) -> String { section.isEmpty ? key : "\(section).\(key)" }

    /// The keys of a mapping node, refusing unknown, misspelt and repeated keys. A missing or null section is empty.
    mutating func mapping(_ node: Node?, section: String) throws(ManifestError) -> [String: Node] {
        guard let node, !isNull(node) else { return [:] }
        guard case .mapping(let mapping) = node else {
            if section.isEmpty { throw error(node, nil, "a manifest must be a mapping of keys to values (`key: value` lines), not \(describe(node)).") }
            let hint = section == "input" && node.scalar != nil ? " Write `input:` and, indented on the next line, `path: \(node.scalar!.string)`." : ""
            throw error(node, section, "`\(section):` must hold indented `key: value` lines (a mapping), not \(describe(node)).\(hint)")
        }
        var result: [String: Node] = [:]
        let allowed = ManifestKeys.keys(in: section)
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else { throw error(keyNode, nil, "keys must be plain words such as `output`.") }
            let key = keyScalar.string
            let path = dotted(section, key)
            // Editors find the schema of a JSON manifest through this key; it says nothing about the job.
            if section.isEmpty, key == ManifestKeys.schemaReference { continue }
            guard allowed.contains(key) else {
                let hint = ManifestKeys.suggestion(for: key, in: section).map { " \($0.prefix(1).uppercased() + $0.dropFirst())" } ?? ""
                let place = section.isEmpty ? "at the top level" : "in `\(section):`"
                throw error(keyNode, path, "`\(path)` is not a manifest key.\(hint.hasSuffix("?") || hint.isEmpty ? hint : hint + ".") The keys \(place) are \(allowed.map { "`\($0)`" }.joined(separator: ", ")).")
            }
            if let earlier = result[key] {
                throw error(keyNode, path, "`\(path)` appears twice (first on line \(earlier.mark?.line ?? 0)); keep one.")
            }
            result[key] = value
            lines[path] = keyNode.mark?.line
        }
        return result
    }

    func scalar(_ node: Node?, _ key: String, expected: String) throws(ManifestError) -> Node.Scalar? {
        guard let node, !isNull(node) else { return nil }
        guard case .scalar(let scalar) = node else { throw error(node, key, "`\(key)` must be \(expected), not \(describe(node)).") }
        return scalar
    }

    func string(_ node: Node?, _ key: String, allowEmpty: Bool = false) throws(ManifestError) -> String? {
        guard let scalar = try scalar(node, key, expected: "a string") else { return nil }
        if scalar.string.isEmpty, !allowEmpty { throw error(node, key, "`\(key)` is empty; give a value or leave the key out.") }
        return scalar.string
    }

    func boolean(_ node: Node?, _ key: String) throws(ManifestError) -> Bool? {
        guard let scalar = try scalar(node, key, expected: "`true` or `false`") else { return nil }
        guard let value = Bool.construct(from: scalar) else { throw error(node, key, "`\(key)` is \(shown(scalar)); it must be `true` or `false`.") }
        return value
    }

    func integer(_ node: Node?, _ key: String, allowed: ClosedRange<Int>) throws(ManifestError) -> Int? {
        let range = allowed.upperBound == Int.max ? "an integer ≥ \(allowed.lowerBound)" : "an integer from \(allowed.lowerBound) to \(allowed.upperBound)"
        guard let scalar = try scalar(node, key, expected: range) else { return nil }
        guard scalar.style == .plain, let value = Int(scalar.string.replacingOccurrences(of: "_", with: "")), allowed.contains(value) else {
            throw error(node, key, "`\(key)` is \(shown(scalar)); it must be \(range).")
        }
        return value
    }

    func number(_ node: Node?, _ key: String, allowed: String) throws(ManifestError) -> Double? {
        guard let scalar = try scalar(node, key, expected: allowed) else { return nil }
        guard let value = Double.construct(from: scalar), value.isFinite else {
            throw error(node, key, "`\(key)` is \(shown(scalar)); it must be \(allowed).")
        }
        return value
    }

    func seed(_ node: Node?) throws(ManifestError) -> UInt64? {
        let allowed = "an integer from 0 to \(UInt64.max)"
        guard let scalar = try scalar(node, "policy.seed", expected: allowed) else { return nil }
        guard scalar.style == .plain, let value = UInt64(scalar.string.replacingOccurrences(of: "_", with: "")) else {
            throw error(node, "policy.seed", "`policy.seed` is \(shown(scalar)); it must be \(allowed).")
        }
        return value
    }

    /// A policy string parsed with the same parser as `tailforge balance`, its error restated for the manifest.
    func parsed<T>(_ node: Node?, _ key: String, _ parse: (String) throws(BalanceSettingsError) -> T) throws(ManifestError) -> T? {
        guard let scalar = try scalar(node, key, expected: "a string") else { return nil }
        do { return try parse(scalar.string) } catch {
            guard case .invalid(_, _, let expected) = error else { throw self.error(node, key, "`\(key)`: \(error)") }
            throw self.error(node, key, "`\(key)` is `\(scalar.string)`; it must be \(expected).")
        }
    }

    /// A value as the user wrote it; a quoted number is a string to YAML and JSON, which is the usual surprise.
    func shown(_ scalar: Node.Scalar) -> String {
        scalar.style == .plain || scalar.style == .any ? "`\(scalar.string)`" : "the quoted string \"\(scalar.string)\" (write it without quotes)"
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "`\(scalar.string)`"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// libyaml's errors as one sentence with the line, without its echo of the whole document.
    static func describe(_ error: YamlError, source: String) -> ManifestError {
        switch error {
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ManifestError(source: source, line: context.mark.line, key: duplicates.first,
                                 reason: "\(duplicates.map { "`\($0)`" }.joined(separator: ", ")) appears more than once in one mapping; keep one.")
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var detail = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
            if problem.contains("cannot start any token") { detail += " (YAML indents with spaces; a tab cannot start a line)" }
            return ManifestError(source: source, line: mark.line, reason: "is not valid YAML or JSON: \(detail).")
        default:
            return ManifestError(source: source, reason: "is not valid YAML or JSON: \("\(error)".replacingOccurrences(of: "\n", with: " ")).")
        }
    }
}
