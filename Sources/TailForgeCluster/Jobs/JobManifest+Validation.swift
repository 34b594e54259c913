import Foundation
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining

extension JobManifest {
    /// The ranges `validate(source:)` enforces, also stated in `jobs/manifest.schema.json`.
    public enum Limits {
        /// Classes of an input without class names; far above any real label set, far below what would
        /// exhaust memory in per-class bookkeeping before the first row is read.
        public static let classes = 1...16_777_216
        public static let shards = 1...65_536
        public static let maxAttempts = 1...100
        /// Seconds; the coordinator's longest shard window (30 days), which keeps every deadline representable.
        public static let shardTimeoutSeconds = 0.1...ShardTimeout.maximumSeconds
    }

    /// Checks every value's range and form. The coordinator runs this at submit and on each job it resumes
    /// from its journal, so a bad value fails that job instead of trapping later (`1e300` seconds overflows a
    /// `Duration`). `source` names the manifest in the error (a file path, or the job id).
    public func validate(source: String) throws(ManifestError) {
        func refuse(_ key: String, _ value: String, _ allowed: String) -> ManifestError {
            ManifestError(source: source, key: key, reason: "`\(key)` is \(value); it must be \(allowed).")
        }
        if let unreadablePolicy { throw ManifestError(source: source, key: "policy", reason: unreadablePolicy) }
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty { throw refuse("name", "empty", "a non-empty name, or left out") }
        if input.path.isEmpty { throw refuse("input.path", "empty", "the path of the input HDF5 file") }
        if let sha256 = input.sha256, !(sha256.count == 64 && sha256.allSatisfy(\.isHexDigit)) {
            throw refuse("input.sha256", "`\(sha256)`", "64 hexadecimal digits (the output of `sha256sum`), or left out")
        }
        for (key, value) in [("input.embeddings", input.embeddingsDataset), ("input.labels", input.labelsDataset)] where value?.isEmpty == true {
            throw refuse(key, "empty", "the name of a dataset in the input file, or left out for the default")
        }
        if let classes = input.classes, !Limits.classes.contains(classes) {
            throw refuse("input.classes", "\(classes)", "an integer from \(Limits.classes.lowerBound) to \(Limits.classes.upperBound)")
        }
        if output.isEmpty { throw refuse("output", "empty", "the path of the balanced output file") }
        if URL(fileURLWithPath: output).standardizedFileURL.path == URL(fileURLWithPath: input.path).standardizedFileURL.path {
            throw ManifestError(source: source, key: "output", reason: "`output` is the input file \(input.path); choose another path so the input is not overwritten.")
        }
        do { try policy.validate() } catch {
            guard case .invalid(let setting, let value, let expected) = error else { throw refuse("policy", "invalid", "\(error)") }
            let key = "policy." + setting.replacingOccurrences(of: "-", with: "_")
            throw refuse(key, "`\(value)`", expected.replacingOccurrences(of: "--kappa-", with: "kappa_").replacingOccurrences(of: "kappa-m", with: "kappa_m"))
        }
        if let shards = sharding.shards, !Limits.shards.contains(shards) {
            throw refuse("sharding.shards", "\(shards)", "an integer from \(Limits.shards.lowerBound) to \(Limits.shards.upperBound), or left out for four per worker")
        }
        if let attempts = sharding.maxAttempts, !Limits.maxAttempts.contains(attempts) {
            throw refuse("sharding.max_attempts", "\(attempts)", "an integer from \(Limits.maxAttempts.lowerBound) to \(Limits.maxAttempts.upperBound)")
        }
        if let seconds = sharding.shardTimeoutSeconds, !Limits.shardTimeoutSeconds.contains(seconds) {
            throw refuse("sharding.shard_timeout_seconds", "\(seconds)",
                         "a number of seconds from \(Limits.shardTimeoutSeconds.lowerBound) to \(Int(Limits.shardTimeoutSeconds.upperBound))")
        }
        if let train {
            let settings = train.settings, limits = Train.Limits.self
            if !(settings.l2.isFinite && limits.l2.contains(settings.l2)) {
                throw refuse("train.l2", "\(settings.l2)", "a number from 0 to 1e6 (larger penalties leave every weight at zero)")
            }
            if !limits.maxIterations.contains(settings.optimizer.maxIterations) {
                throw refuse("train.max_iterations", "\(settings.optimizer.maxIterations)", "an integer from 0 to \(limits.maxIterations.upperBound)")
            }
            for (key, value, meaning) in [("train.tolerance", settings.optimizer.gradientTolerance, "a fraction from 0 to below 1 of the initial gradient norm"),
                                          ("train.loss_tolerance", settings.optimizer.lossTolerance, "a relative decrease from 0 to below 1")]
            where !(value.isFinite && limits.tolerance.contains(value)) {
                throw refuse(key, "\(value)", meaning)
            }
            if case .custom = settings.classWeighting { throw refuse("train.class_weight", "custom", "none or balanced") }
            if let calibration = train.calibration {
                guard calibration.holdOutFraction.isFinite, limits.calibrationHoldout.contains(calibration.holdOutFraction) else {
                    throw refuse("train.calibration_holdout", "\(calibration.holdOutFraction)",
                                 "a fraction of each class's real rows from \(limits.calibrationHoldout.lowerBound) to \(limits.calibrationHoldout.upperBound)")
                }
                if let grid = calibration.l2Grid {
                    do { try calibration.validate() } catch {
                        throw refuse("train.l2_grid", "\(grid)", "non-empty, each from 0 to 1e6, each once, largest first")
                    }
                }
                // `calibrate: true` searches the standard τ grid; `l2: auto` without it keeps τ at 0.
                guard calibration.tauGrid == CalibrationSettings.standardGrid || (calibration.l2Grid != nil && calibration.tauGrid == [0]) else {
                    throw refuse("train.calibrate", "a τ grid of \(calibration.tauGrid.count) values", "the standard grid of `train --calibrate`")
                }
            }
            if let trainer = train.trainer, trainer.trimmingCharacters(in: .whitespaces).isEmpty {
                throw refuse("train.trainer", "empty", "the name of a worker (`tailforge worker --name`), or left out to train on the coordinator")
            }
            if let balanced = train.balancedOutput {
                let path = URL(fileURLWithPath: balanced).standardizedFileURL.path
                if balanced.isEmpty { throw refuse("train.balanced_output", "empty", "the path of the balanced file to publish, or left out") }
                if path == URL(fileURLWithPath: input.path).standardizedFileURL.path || path == URL(fileURLWithPath: output).standardizedFileURL.path {
                    throw ManifestError(source: source, key: "train.balanced_output",
                                        reason: "`train.balanced_output` is the job's \(path == URL(fileURLWithPath: output).standardizedFileURL.path ? "model output" : "input") \(balanced); choose another path.")
                }
            }
        }
        if publishMode == .virtual, outputLayout != .full {
            let fix = train != nil && train?.balancedOutput == nil
                ? "add `train.balanced_output` and `layout: full` to publish the balanced set as a virtual file, or remove `publish`"
                : "set `layout: full`, or remove `publish` (a compact output holds no synthetic rows to map)"
            throw ManifestError(source: source, key: "publish",
                                reason: "`publish: virtual` maps the full layout's rows, but this job's balanced set is \(train != nil && train?.balancedOutput == nil ? "not published" : "compact"); \(fix).")
        }
        if let shared = transfer.sharedShardDirectory, shared.isEmpty {
            throw refuse("transfer.shared_shard_directory", "empty", "a directory every node can write, or left out to fetch shards from workers")
        }
    }
}
