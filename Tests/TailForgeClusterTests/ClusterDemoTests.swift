import Foundation
import TailForgeTestSupport
import Testing
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// `tailforge demo` on the small preset: the cluster jobs, then every recipe of the comparison fitted and scored,
    /// each column of the printed table present and numeric.
    @Suite struct ClusterDemoTests {
        static let columns = [ClusterDemo.unweighted, ClusterDemo.logitAdjusted, ClusterDemo.classWeighted, ClusterDemo.mixture,
                              ClusterDemo.vmfBalanced, ClusterDemo.transductive]
        /// The columns of models without L-BFGS.
        static let mixtures = [ClusterDemo.mixture, ClusterDemo.transductive]

        @Test func demoComparesEveryRecipeOnTheTestSplit() async throws {
            let executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
            try await withTemporaryDirectory("demo") { directory in
                let demo = ClusterDemo(executable: executable, outputDirectory: directory, preset: .small, workers: 2, trainingThreads: 2)
                let report = try await demo.run { _ in }

                #expect(report.recipes.map(\.name) == Self.columns)
                for recipe in report.recipes {
                    let e = recipe.evaluation
                    #expect((0 ... 1).contains(e.top1Accuracy) && (0 ... 1).contains(e.meanClassAccuracy), "\(recipe.name)")
                    // The small preset (200 → 10 rows per class) has classes in every shot group.
                    for group in Evaluation.ShotGroup.allCases {
                        let accuracy = try #require(recipe.accuracy(group), "\(recipe.name) has no \(group)-shot accuracy")
                        #expect((0 ... 1).contains(accuracy), "\(recipe.name) \(group)-shot")
                    }
                    #expect(recipe.fitSeconds.isFinite && recipe.fitSeconds >= 0, "\(recipe.name)")
                    #expect(recipe.trainingRows == (recipe.name == ClusterDemo.vmfBalanced ? report.balancedRows : report.unbalancedRows),
                            "\(recipe.name)")
                    #expect((recipe.iterations == nil) == Self.mixtures.contains(recipe.name), "\(recipe.name): L-BFGS iterations")
                    // Only the calibrated recipes apply a τ.
                    let adjusted = [ClusterDemo.logitAdjusted, ClusterDemo.mixture, ClusterDemo.transductive].contains(recipe.name)
                    #expect((e.logitAdjustmentTau != nil) == adjusted, "\(recipe.name): τ \(String(describing: e.logitAdjustmentTau))")
                }
                #expect(report.balancedRows > report.unbalancedRows)
                #expect(report.balancedSHA256.count == 64 && report.balancedSHA256.allSatisfy(\.isHexDigit))

                // The unweighted column is the calibrated run's final fit: the model plain `train` fits on the same file.
                let plainModel = (directory as NSString).appendingPathComponent("plain.h5")
                _ = try await TrainingRunner(inputs: [(directory as NSString).appendingPathComponent("unbalanced.h5")], output: plainModel,
                                             settings: TrainingSettings(), threads: 2).run()
                let plain = try EvaluationRunner(model: plainModel, test: (directory as NSString).appendingPathComponent("data/test.h5"),
                                                 training: (directory as NSString).appendingPathComponent("data/train.h5")).run()
                #expect(report.recipe(ClusterDemo.unweighted)?.evaluation == plain)

                // The transductive column's model was refined by train --transductive's EM over the test split's embeddings.
                let transductive = try VMFMixtureModelFile.read(path: (directory as NSString).appendingPathComponent("model-vmf-mixture-transductive.h5"))
                #expect(transductive.attributes["unlabeled_files"]?.stringValue == "test.h5")
                #expect(transductive.attributes["unlabeled_rows"] == .int(Int64(plain.samples)), "every test row is in the pool")
                #expect(transductive.attributes["em_leave_one_out"] == .int(1))

                try checkTable(report.render())
            }
        }

        /// Every row of the table has one numeric cell per column (or "–" where the measure does not apply), and every
        /// line fits in 100 columns.
        func checkTable(_ table: String) throws {
            let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for line in lines { #expect(line.count <= 100, "too wide: \(line)") }
            let header = try #require(lines.first { $0.hasPrefix("test top-1") })
            var rest = Substring(header.dropFirst("test top-1".count))
            for column in Self.columns {
                let range = try #require(rest.range(of: column), "column \(column) missing or out of order in \(header)")
                rest = rest[range.upperBound...]
            }
            func cells(_ label: String) throws -> [String] {
                let line = try #require(lines.first { $0.hasPrefix(label + " ") }, "row \(label) missing")
                return String(line.dropFirst(ClusterDemo.Report.labelWidth)).split(separator: " ").map(String.init).filter { $0 != "%" }
            }
            for label in ["overall", "mean per class", "many-shot", "medium-shot", "few-shot"] {
                let values = try cells(label)
                #expect(values.count == Self.columns.count, "\(label): \(values)")
                for value in values { #expect(Double(value).map { (0 ... 100).contains($0) } == true, "\(label): \(value)") }
            }
            for label in ["training rows", "fit seconds"] {
                let values = try cells(label)
                #expect(values.count == Self.columns.count && values.allSatisfy { Double($0) != nil }, "\(label): \(values)")
            }
            let iterations = try cells("L-BFGS iter.")
            #expect(iterations.count == Self.columns.count, "\(iterations)")
            for (column, value) in zip(Self.columns, iterations) {
                #expect(Self.mixtures.contains(column) ? value == "–" : Int(value) != nil, "\(column): L-BFGS iterations \(value)")
            }
            #expect(try cells("logit adj. τ").count == Self.columns.count)
        }
    }
}
