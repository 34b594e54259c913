import Foundation
import TailForgeTraining

extension ClusterDemo {
    /// One recipe of the demo's comparison: a model trained on this machine after the cluster jobs, scored on the
    /// test split.
    public struct Recipe: Sendable {
        /// The column heading (at most 13 characters, so six columns of 14 fit in 100 beside the row labels).
        public var name: String
        public var evaluation: Evaluation
        /// Rows the model was fitted on.
        public var trainingRows: Int
        /// L-BFGS iterations of the fit that made the model; nil for a model without L-BFGS (the vMF mixture).
        public var iterations: Int?
        /// Wall seconds of the fits this recipe needs, loading excluded: a calibrated recipe includes its
        /// calibration fit (softmax) or its cross-validation (the mixture), the transductive mixture its EM too.
        public var fitSeconds: Double

        public init(name: String, evaluation: Evaluation, trainingRows: Int, iterations: Int?, fitSeconds: Double) {
            self.name = name
            self.evaluation = evaluation
            self.trainingRows = trainingRows
            self.iterations = iterations
            self.fitSeconds = fitSeconds
        }

        /// Test accuracy of the many-, medium- or few-shot classes (nil when the group has no classes).
        public func accuracy(_ group: Evaluation.ShotGroup) -> Double? {
            evaluation.groups?.first { $0.group == group }?.accuracy
        }
    }

    /// What the demo measured.
    public struct Report: Sendable {
        public var balancedSHA256: String
        public var balancedRows: Int
        public var unbalancedRows: Int
        public var jobSeconds: Double
        /// The recipes in the table's column order.
        public var recipes: [Recipe]

        public init(balancedSHA256: String, balancedRows: Int, unbalancedRows: Int, jobSeconds: Double, recipes: [Recipe]) {
            self.balancedSHA256 = balancedSHA256
            self.balancedRows = balancedRows
            self.unbalancedRows = unbalancedRows
            self.jobSeconds = jobSeconds
            self.recipes = recipes
        }

        /// The width of the row labels: six columns of 14 then fit in 100.
        public static let labelWidth = 16

        /// The recipe headed `name`.
        public func recipe(_ name: String) -> Recipe? { recipes.first { $0.name == name } }

        /// The comparison table the demo prints: a row per measure, a column per recipe. No column is marked best:
        /// the test split is for reporting, and every recipe's own choices were made without it.
        public func render() -> String {
            let width = 14
            func cell(_ text: String) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
            func row(_ label: String, _ value: (Recipe) -> String) -> String {
                label.padding(toLength: Self.labelWidth, withPad: " ", startingAt: 0) + recipes.map { cell(value($0)) }.joined()
            }
            func percent(_ v: Double?) -> String { v.map { String(format: "%.2f %%", $0 * 100) } ?? "–" }
            var lines = [
                "balanced output  \(balancedRows) rows, SHA-256 \(balancedSHA256)",
                String(format: "cluster jobs     %.1f s (balanced + unbalanced)", jobSeconds),
                "",
                row("test top-1") { $0.name },
                row("overall") { percent($0.evaluation.top1Accuracy) },
                row("mean per class") { percent($0.evaluation.meanClassAccuracy) },
            ]
            for group in Evaluation.ShotGroup.allCases {
                lines.append(row("\(group.rawValue)-shot") { percent($0.accuracy(group)) })
            }
            lines.append(row("training rows") { "\($0.trainingRows)" })
            lines.append(row("logit adj. τ") { $0.evaluation.logitAdjustmentTau.map { String(format: "%.2f", $0) } ?? "–" })
            lines.append(row("L-BFGS iter.") { $0.iterations.map(String.init) ?? "–" })
            lines.append(row("fit seconds") { String(format: "%.2f", $0.fitSeconds) })
            lines += [
                "",
                "unweighted: softmax on the unbalanced output; logit adj.: the same model (the final fit of train",
                "  --calibrate) with τ chosen on held-out real rows, its seconds including the calibration fit;",
                "class weights: train --class-weight balanced; vMF mixture: train --classifier vmf-mixture",
                "  --calibrate (real rows; K_max, κ₀ and τ by cross-validation, included in its seconds);",
                "vMF-balanced: softmax on the balanced output; transductive: the vMF mixture with --transductive",
                "  test.h5, EM over the test split's embeddings (never its labels), so fitted with the rows it",
                "  classifies (EM in its seconds). Every choice was made without the test split's labels.",
            ]
            return lines.joined(separator: "\n")
        }
    }
}
