import Foundation

/// How `train --calibrate` chooses the logit adjustment τ, and `train --l2 auto` the L2 strength λ
/// (see ``LogitAdjustmentCalibrator``).
public struct CalibrationSettings: Sendable, Equatable {
    /// Fraction of each class's real rows held out (`--calibration-holdout`).
    public var holdOutFraction: Double
    /// Seed of the stratified hold-out draw (`--calibration-seed`).
    public var seed: UInt64
    /// Candidate τ values, ascending; ties in held-out balanced accuracy go to the smallest.
    public var tauGrid: [Double]
    /// Candidate λ values, strictly descending (the warm-start path); nil keeps the run's own `--l2`. Ties in
    /// held-out balanced accuracy go to the largest λ.
    public var l2Grid: [Double]?

    /// The accepted hold-out fractions: below 5 % the many-shot estimate is noise-free but few-shot classes
    /// still lose one row each, so nothing is gained; above 50 % the calibration fit is too unlike the final one.
    public static let holdOutRange: ClosedRange<Double> = 0.05 ... 0.5
    /// τ ∈ {0, 0.05, …, 2}: 0 is the raw model, 1 the Bayes correction of an unweighted fit; 2 over-corrects.
    public static let standardGrid: [Double] = (0 ... 40).map { Double($0) / 20 }
    /// λ ∈ {1e-4 (the default `--l2`), 3e-5, 1e-5, 3e-6, 1e-6}: half-decade steps down from the default. On
    /// the places-lt preset the default underfits (3e-6 is 9 pt better), on cifar100-lt all of them are within
    /// 0.2 pt; larger values underfit (3e-4 lost 4 pt many-shot there), smaller ones only cost iterations.
    public static let standardL2Grid: [Double] = [1e-4, 3e-5, 1e-5, 3e-6, 1e-6]
    /// The λ values `train` accepts (larger penalties leave every weight at zero).
    public static let l2Range: ClosedRange<Double> = 0 ... 1e6

    /// Calibration of τ alone, at the run's λ; with `l2Grid` also the λ search.
    public init(holdOutFraction: Double = 0.2, seed: UInt64 = 0, tauGrid: [Double] = CalibrationSettings.standardGrid,
                l2Grid: [Double]? = nil) {
        self.holdOutFraction = holdOutFraction
        self.seed = seed
        self.tauGrid = tauGrid
        self.l2Grid = l2Grid
    }

    /// The λ search without logit adjustment (`train --l2 auto` without `--calibrate`): τ stays 0.
    public static func l2SearchOnly(holdOutFraction: Double = 0.2, seed: UInt64 = 0,
                                    l2Grid: [Double] = CalibrationSettings.standardL2Grid) -> CalibrationSettings {
        CalibrationSettings(holdOutFraction: holdOutFraction, seed: seed, tauGrid: [0], l2Grid: l2Grid)
    }

    public func validate() throws(TrainingError) {
        guard holdOutFraction.isFinite, Self.holdOutRange.contains(holdOutFraction) else {
            throw .invalidSetting(name: "--calibration-holdout", value: "\(holdOutFraction)",
                                  expected: "between \(Self.holdOutRange.lowerBound) and \(Self.holdOutRange.upperBound)")
        }
        guard !tauGrid.isEmpty, tauGrid.allSatisfy({ $0.isFinite && $0 >= 0 }),
              zip(tauGrid, tauGrid.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw .invalidSetting(name: "τ grid", value: "\(tauGrid)", expected: "non-empty, finite, non-negative and strictly ascending")
        }
        if let l2Grid {
            guard !l2Grid.isEmpty, l2Grid.allSatisfy({ $0.isFinite && Self.l2Range.contains($0) }),
                  zip(l2Grid, l2Grid.dropFirst()).allSatisfy({ $0 > $1 }) else {
                throw .invalidSetting(name: "λ grid", value: "\(l2Grid)",
                                      expected: "non-empty, each from 0 to 1e6, and strictly descending")
            }
        }
    }

    /// The candidates of `--l2-grid` ("1e-6,3e-6,1e-5"): numbers from 0 to 1e6, each once, in any order;
    /// returned largest first (the order the search fits them in).
    public static func l2Grid(parsing text: String, option: String = "--l2-grid") throws(TrainingError) -> [Double] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard items.contains(where: { !$0.isEmpty }) else {
            throw .invalidSetting(name: option, value: "'\(text)'", expected: "a comma-separated list of λ values, e.g. 1e-6,3e-6,1e-5,3e-5,1e-4")
        }
        var values: [Double] = []
        for item in items {
            guard let value = Double(item), value.isFinite, l2Range.contains(value) else {
                let what = item.isEmpty ? "an empty entry" : "'\(item)'"
                throw .invalidSetting(name: option, value: "'\(text)'",
                                      expected: "comma-separated numbers from 0 to 1e6 (\(what) is not one), e.g. 1e-6,3e-6,1e-5,3e-5,1e-4")
            }
            guard !values.contains(value) else {
                throw .invalidSetting(name: option, value: "'\(text)'", expected: "each λ once (\(item) is given twice)")
            }
            values.append(value)
        }
        return values.sorted(by: >)
    }
}
