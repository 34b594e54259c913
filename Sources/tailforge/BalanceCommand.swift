import ArgumentParser
import Foundation
import TailForgeEngine
import TailForgeStorage

struct BalanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balance",
        abstract: "Balance a long-tailed embedding file with synthetic samples and write the balanced HDF5 file.")

    @Argument(help: "Long-tailed input HDF5 file (/embeddings [N, d], /labels [N]).")
    var input: String

    @Option(name: .shortAndLong, help: "Balanced output HDF5 file, written atomically.")
    var output: String

    @OptionGroup var policy: BalanceOptions
    @OptionGroup var datasets: InputDatasetOptions

    @Option(help: "full (every row; what h5py and scikit-learn read) or compact (real rows, their κ and the recipe; TailForge regenerates the synthetic rows bit-exactly when it reads the file).")
    var layout: String = BalancedLayout.full.rawValue

    @Option(help: "Worker threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(name: .customLong("no-digest"), help: "Skip the output file's SHA-256 (a second read of the output, from the page cache; seconds at Places-LT scale). The per-dataset content SHA-256s are computed while writing either way.")
    var noDigest = false

    @Flag(help: "Print the summary as JSON on stdout instead of a table.")
    var json = false

    func validate() throws {
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
        do { _ = try BalancedLayout(parsing: layout) } catch { throw ValidationError("--layout: \(error)") }
    }

    func run() throws {
        let runner = BalanceRunner(input: datasets.spec(path: input), outputPath: output, settings: try policy.settings(), threads: threads,
                                   computeOutputDigest: !noDigest, layout: try BalancedLayout(parsing: layout))
        let bar = ProgressBar()
        let summary = try runner.run { stage, done, total in bar.update(stage.rawValue, done: done, total: total) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(summary.render())
        }
    }
}
