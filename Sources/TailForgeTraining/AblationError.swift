import Foundation
import TailForgeNumerics

/// Why `tailforge ablate` cannot run, each saying what and what to do.
public enum AblationError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownRecipe(String, known: [String])
    case noRecipes
    /// `vmf-mixture-pool` was asked for without unlabeled files.
    case poolRecipeWithoutPool
    /// An EM pool (an `--unlabeled` file, or the test file for the transductive recipe) of another dimension than TRAIN.
    case poolDimension(path: String, transductive: Bool, found: Int, train: String, expected: Int)
    /// The results file exists but is not an ablation report this tool can extend.
    case unreadableResults(path: String, reason: String)
    case plotsFailed(command: String, status: Int32, stderr: String)

    public var description: String {
        switch self {
        case .unknownRecipe(let name, let known):
            "unknown recipe '\(name)'\(Spelling.hint(for: name, among: known)); the recipes are \(known.joined(separator: ", "))"
        case .noRecipes:
            "no recipe selected; give --recipes with at least one of \(AblationRecipe.all.map(\.description).joined(separator: ", "))"
        case .poolRecipeWithoutPool:
            "the recipe vmf-mixture-pool refines the mixture with unlabeled rows: give them with --unlabeled POOL.h5, or leave the recipe out"
        case .poolDimension(let path, let transductive, let found, let train, let expected):
            "\(path) has embeddings of dimension \(found) but \(train) has \(expected): "
                + (transductive ? "the transductive recipe refines the mixture with the test file's embeddings, so both files must come from the same embedding model"
                   : "an --unlabeled pool must come from the same embedding model as the training rows; pass a pool of dimension \(expected)")
        case .unreadableResults(let path, let reason):
            "\(path) is not an ablation report this tailforge can resume (\(reason)); give another --json path or remove the file"
        case .plotsFailed(let command, let status, let stderr):
            "the pictures failed (\(command) exited with \(status)): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
    }
}
