import Foundation
import TailForgeEngine
import TailForgeStorage

/// `tailforge ablate`'s results: one entry per recipe, each with the settings that produced it (a re-run skips a
/// recipe whose recorded settings equal the new ones) and its two rows (raw and logit-adjusted).
public struct AblationReport: Codable, Sendable, Equatable {
    public static let format = "tailforge-ablation-v1"

    /// Everything that decides a recipe's numbers; a recipe is reused only when all of it is equal.
    public struct Settings: Codable, Sendable, Equatable {
        public var recipe: String
        public var trainSHA256: String
        public var testSHA256: String
        public var balance: BalanceSettings?
        public var training: TrainingSettings
        public var calibrationHoldout: Double
        public var calibrationSeed: UInt64
        /// The λ candidates of a `+l2-auto` recipe (nil otherwise, and in older reports).
        public var l2Grid: [Double]?
        public var toolVersion: String
        /// The cross-validation of the `vmf-mixture` recipe (nil for every other recipe, and in older reports). Its
        /// `training` is the default (unused), `calibrationHoldout` 0 (no hold-out) and `calibrationSeed` the fold seed.
        public var mixture: MixtureSettings? = nil
    }

    /// What decides the `vmf-mixture` recipe's cross-validated choice besides its seed.
    public struct MixtureSettings: Codable, Sendable, Equatable {
        public var maxModesGrid: [Int]
        public var priorConcentrationMultiples: [Double]
        public var folds: Int
        public var calibrate: Bool
        /// The SHA-256 of each unlabeled file the EM used (the test file's for `vmf-mixture-transductive`), and EM's
        /// iteration limit; nil for the plain mixture (and in older reports, so their `vmf-mixture` entries resume).
        public var unlabeledSHA256: [String]? = nil
        public var emIterations: Int? = nil

        public init(_ settings: VMFMixtureSelectionSettings, unlabeledSHA256: [String]? = nil, emIterations: Int? = nil) {
            maxModesGrid = settings.maxModesGrid
            priorConcentrationMultiples = settings.priorConcentrationMultiples
            folds = settings.folds
            calibrate = settings.calibrate
            self.unlabeledSHA256 = unlabeledSHA256
            self.emIterations = emIterations
        }
    }

    /// One row of the table.
    public struct Row: Codable, Sendable, Equatable {
        public var name: String
        public var calibrated: Bool
        /// τ applied (nil for a raw row).
        public var tau: Double?
        /// λ of the final fit: the given one, or the one a `+l2-auto` recipe chose (nil in older reports).
        public var l2: Double?
        /// Balanced accuracy of this row's decision rule (raw or adjusted) on the held-out real rows of the
        /// calibration fit at the final λ: what a user without test labels can rank recipes by (nil in older reports).
        public var heldOutBalancedAccuracy: Double?
        public var top1: Double
        public var many: Double?
        public var medium: Double?
        public var few: Double?
        public var meanClassAccuracy: Double
        /// Wall seconds to produce this row: balancing, loading and the final fit, plus the calibration fit for a
        /// calibrated row.
        public var seconds: Double
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var settings: Settings
        public var balanceSeconds: Double
        public var calibrationFitSeconds: Double
        public var finalFitSeconds: Double
        public var trainingRows: Int
        public var rows: [Row]
    }

    public var format = AblationReport.format
    public var train: String
    public var test: String
    public var entries: [Entry]

    public init(train: String, test: String, entries: [Entry] = []) {
        self.train = train
        self.test = test
        self.entries = entries
    }

    /// The report at `path`, or nil when there is none.
    public static func read(path: String) throws(AblationError) -> AblationReport? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadableResults(path: path, reason: "\(error.localizedDescription)")
        }
        let report: AblationReport
        do { report = try JSONDecoder().decode(AblationReport.self, from: data) } catch {
            throw .unreadableResults(path: path, reason: "it does not decode as one: \(error)")
        }
        guard report.format == format else { throw .unreadableResults(path: path, reason: "its format is '\(report.format)', expected '\(format)'") }
        return report
    }

    /// Writes the report whole under a temporary name and renames it into place: an interrupt leaves the
    /// previous report or the new one, never a part.
    public func write(path: String, distinctFrom inputs: [String]) throws(StorageError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let bytes: Data
        do { bytes = try encoder.encode(self) } catch { throw .invalidArgument("the ablation report does not encode: \(error)") }
        try AtomicFile.write(Array(bytes), to: path, distinctFrom: inputs)
    }

    /// The row a user without test labels would pick: the highest held-out balanced accuracy (ties: the first
    /// in table order); nil when no row has one. The held-out rows are drawn alike for every recipe (same
    /// fraction and seed over each class's real rows), so the scores are comparable.
    public var chosenRow: Row? {
        var best: Row?
        for row in entries.flatMap(\.rows) {
            guard let score = row.heldOutBalancedAccuracy else { continue }
            if best == nil || score > best!.heldOutBalancedAccuracy! { best = row }
        }
        return best
    }

    /// The table: one line per row, accuracies in per cent, the automatically chosen row marked with `*`.
    public func table() -> String {
        let rows = entries.flatMap(\.rows)
        let width = max(30, rows.map(\.name.count).max() ?? 0)
        let chosen = chosenRow
        func cell(_ value: Double?) -> String { value.map { String(format: "%7.2f", $0 * 100) } ?? "      –" }
        var lines = ["  " + "recipe".padding(toLength: width, withPad: " ", startingAt: 0)
                     + "        λ     τ  held-out   top-1    many  medium     few   wall s"]
        for row in rows {
            lines.append((row == chosen ? "* " : "  ") + row.name.padding(toLength: width, withPad: " ", startingAt: 0)
                         + (row.l2.map { String(format: " %8.1e", $0) } ?? "        –")
                         + (row.tau.map { String(format: "  %4.2f", $0) } ?? "     –")
                         + "   " + cell(row.heldOutBalancedAccuracy)
                         + " " + cell(row.top1) + " " + cell(row.many) + " " + cell(row.medium) + " " + cell(row.few)
                         + String(format: " %8.1f", row.seconds))
        }
        if entries.contains(where: { $0.settings.recipe == AblationRecipe.vmfMixtureTransductive.description }) {
            lines.append("  transductive: refined by EM over the test file's embeddings (never its labels; train --transductive), so it needs the rows it classifies when it is fitted")
        }
        if let chosen {
            lines.append(String(format: "* chosen without test labels (highest held-out balanced accuracy, %.2f %%): ",
                                (chosen.heldOutBalancedAccuracy ?? 0) * 100) + chosen.name)
        }
        return lines.joined(separator: "\n")
    }
}
