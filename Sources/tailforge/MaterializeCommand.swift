import ArgumentParser
import Foundation
import TailForgeEngine

struct MaterializeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "materialize",
        abstract: "Write the full balanced file a compact one stands for, byte-identical to `balance --layout full`.")

    @Argument(help: "Compact balanced HDF5 file (written by `balance --layout compact`).")
    var input: String

    @Option(name: .shortAndLong, help: "Full balanced output HDF5 file, written atomically.")
    var output: String

    @Option(help: "Worker threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(name: .customLong("no-digest"), help: "Skip the output file's SHA-256 (a second read of the output); the per-dataset content SHA-256s are computed while writing either way.")
    var noDigest = false

    @Flag(help: "Print the summary as JSON on stdout instead of lines.")
    var json = false

    func validate() throws {
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
    }

    func run() throws {
        let bar = ProgressBar()
        let summary = try CompactMaterializer(input: input, output: output, threads: threads, computeOutputDigest: !noDigest)
            .run { done, total in bar.update("regenerate+write", done: done, total: total) }
        if json {
            try JSONOutput.line(summary)
        } else {
            print("rows              \(summary.realRows) real + \(summary.syntheticRows) synthetic = \(summary.rows)")
            print("balanced sha256   \(summary.balancedSHA256)")
            if let o = summary.outputSHA256 { print("output sha256     \(o)") }
            for name in summary.outputContentSHA256.keys.sorted() { print("content sha256    \(summary.outputContentSHA256[name]!)  /\(name)") }
            print(String(format: "time              %.2fs", summary.seconds))
        }
    }
}
