import Foundation
import TailForgeTraining

extension JobManifest {
    /// The `train:` section: the job balances *and* trains. Workers keep the balanced rows in memory (each
    /// regenerates its part of the set from the input and the κ the job computed) and serve the loss and gradient;
    /// the coordinator drives L-BFGS and writes the model to `output`. The settings are `tailforge train`'s.
    public struct Train: Codable, Sendable, Equatable {
        /// `train`'s settings (`l2`, `max_iterations`, `tolerance`, `loss_tolerance`, `class_weight`); with `l2: auto`,
        /// `l2` is the grid's first candidate, as `train --l2 auto` has it, and the final fit uses the chosen λ.
        public var settings: TrainingSettings
        /// Also publish the balanced set here (in the job's `layout`, compact unless it says `full`); nil keeps
        /// it out of the data roots (only its recipe and identity are recorded).
        public var balancedOutput: String?
        /// `calibrate: true` (with `calibration_holdout`, `calibration_seed`): what `train --calibrate` does — a
        /// calibration fit without the held-out real rows and their synthetic copies, τ chosen by held-out balanced
        /// accuracy, τ and π stored in the model. Each worker holds out its own rows (the draw is a pure function of
        /// the settings and the class counts); only weights, gradient sums and per-class counts cross the network.
        /// `l2: auto` (with `l2_grid`) gives it a λ grid: what `train --l2 auto` does, τ fixed at 0 without `calibrate`.
        public var calibration: CalibrationSettings?
        /// `trainer: WORKER_NAME`: the worker (`tailforge worker --name`) that drives L-BFGS instead of the coordinator;
        /// the parts are still evaluated by the workers holding them. Nil: the coordinator trains.
        public var trainer: String?

        public init(settings: TrainingSettings = TrainingSettings(), balancedOutput: String? = nil, calibration: CalibrationSettings? = nil,
                    trainer: String? = nil) {
            self.settings = settings
            self.balancedOutput = balancedOutput
            self.calibration = calibration
            self.trainer = trainer
        }

        /// The balanced file's name as the model records it (`input_files`): the published file's name, else
        /// `balanced.h5`. A single-node `balance` + `train` gives the same model bytes when its balanced file has
        /// this name (a model records the names of the files it was trained on).
        public var balancedName: String {
            balancedOutput.map { ($0 as NSString).lastPathComponent } ?? Self.defaultBalancedName
        }
        public static let defaultBalancedName = "balanced.h5"

        enum CodingKeys: String, CodingKey, CaseIterable {
            case l2, maxIterations = "max_iterations", tolerance, lossTolerance = "loss_tolerance", classWeight = "class_weight",
                 balancedOutput = "balanced_output", calibrate, calibrationHoldout = "calibration_holdout", calibrationSeed = "calibration_seed",
                 l2Grid = "l2_grid", trainer
        }

        /// `l2: auto`'s spelling.
        public static let automaticL2 = "auto"

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            var settings = TrainingSettings()
            let automatic = (try? c.decodeIfPresent(String.self, forKey: .l2)) == Self.automaticL2
            if !automatic { settings.l2 = try c.decodeIfPresent(Double.self, forKey: .l2) ?? settings.l2 }
            settings.optimizer.maxIterations = try c.decodeIfPresent(Int.self, forKey: .maxIterations) ?? settings.optimizer.maxIterations
            settings.optimizer.gradientTolerance = try c.decodeIfPresent(Double.self, forKey: .tolerance) ?? settings.optimizer.gradientTolerance
            settings.optimizer.lossTolerance = try c.decodeIfPresent(Double.self, forKey: .lossTolerance) ?? settings.optimizer.lossTolerance
            if let name = try c.decodeIfPresent(String.self, forKey: .classWeight) {
                guard let weighting = Self.classWeighting(name) else {
                    throw DecodingError.dataCorruptedError(forKey: .classWeight, in: c, debugDescription: "`train.class_weight` is `\(name)`; it must be none or balanced")
                }
                settings.classWeighting = weighting
            }
            self.settings = settings
            balancedOutput = try c.decodeIfPresent(String.self, forKey: .balancedOutput)
            let grid = automatic ? try c.decodeIfPresent([Double].self, forKey: .l2Grid) ?? CalibrationSettings.standardL2Grid : nil
            let calibrate = try c.decodeIfPresent(Bool.self, forKey: .calibrate) == true
            if calibrate || grid != nil {
                let defaults = CalibrationSettings()
                calibration = CalibrationSettings(holdOutFraction: try c.decodeIfPresent(Double.self, forKey: .calibrationHoldout) ?? defaults.holdOutFraction,
                                                  seed: try c.decodeIfPresent(UInt64.self, forKey: .calibrationSeed) ?? defaults.seed,
                                                  tauGrid: calibrate ? CalibrationSettings.standardGrid : [0], l2Grid: grid)
            }
            if let first = grid?.first { self.settings.l2 = first }
            trainer = try c.decodeIfPresent(String.self, forKey: .trainer)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if let grid = calibration?.l2Grid {
                try c.encode(Self.automaticL2, forKey: .l2)
                try c.encode(grid, forKey: .l2Grid)
            } else {
                try c.encode(settings.l2, forKey: .l2)
            }
            try c.encode(settings.optimizer.maxIterations, forKey: .maxIterations)
            try c.encode(settings.optimizer.gradientTolerance, forKey: .tolerance)
            try c.encode(settings.optimizer.lossTolerance, forKey: .lossTolerance)
            try c.encode(settings.classWeighting.name, forKey: .classWeight)
            try c.encodeIfPresent(balancedOutput, forKey: .balancedOutput)
            // Only when calibrating: the encoding (and so the seal) of an uncalibrated job's manifest is unchanged.
            if let calibration {
                if calibration.tauGrid != [0] { try c.encode(true, forKey: .calibrate) }
                try c.encode(calibration.holdOutFraction, forKey: .calibrationHoldout)
                try c.encode(calibration.seed, forKey: .calibrationSeed)
            }
            // Only when named, for the same reason.
            try c.encodeIfPresent(trainer, forKey: .trainer)
        }

        /// `none` or `balanced`, as `train --class-weight` spells them.
        public static func classWeighting(_ name: String) -> ClassWeighting? {
            switch name {
            case "none": ClassWeighting.none
            case "balanced": ClassWeighting.balanced
            default: nil
            }
        }

        /// `train`'s flags have (`--l2`, `--max-iter`, `--tol`, `--loss-tol`, `--calibration-holdout`).
        public enum Limits {
            public static let calibrationHoldout = CalibrationSettings.holdOutRange
            public static let l2 = 0.0...1e6
            public static let maxIterations = 0...1_000_000
            public static let tolerance = 0.0...0.999_999
        }
    }
}
