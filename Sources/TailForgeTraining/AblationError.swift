import Foundation
import TailForgeNumerics

/// Why `tailforge ablate` cannot run, each saying what and what to do.
public enum AblationError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownRecipe(String, known: [String])
    case noRecipes
    /// The results file exists but is not an ablation report this tool can extend.
    case unreadableResults(path: String, reason: String)
    case plotsFailed(command: String, status: Int32, stderr: String)

    public var description: String {
        switch self {
        case .unknownRecipe(let name, let known):
            "unknown recipe '\(name)'\(Spelling.hint(for: name, among: known)); the recipes are \(known.joined(separator: ", "))"
        case .noRecipes:
            "no recipe selected; give --recipes with at least one of \(AblationRecipe.all.map(\.description).joined(separator: ", "))"
        case .unreadableResults(let path, let reason):
            "\(path) is not an ablation report this tailforge can resume (\(reason)); give another --json path or remove the file"
        case .plotsFailed(let command, let status, let stderr):
            "the pictures failed (\(command) exited with \(status)): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
    }
}
