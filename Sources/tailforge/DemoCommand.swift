import ArgumentParser
import Foundation
import TailForgeCluster
import TailForgeEngine
import TailForgeNumerics

/// `tailforge demo`: the whole pipeline on generated data, on a loopback cluster.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate long-tailed data, balance it on a local coordinator and two workers, then train the vMF-balanced recipe and the simple alternatives and compare them.")

    @Option(help: "Data set shape: cifar100-lt (default, about a minute on two cores in release), small (seconds) or places-lt.")
    var preset: String = SyntheticPreset.cifar100LT.rawValue

    @Option(help: "Embedding dimension (default: the preset's).")
    var dimension: Int?

    @Option(help: "Output directory for data, logs, balanced files and models.")
    var out: String = "demo-out"

    @Option(help: "Worker processes.")
    var workers: Int = 2

    @Option(help: "Seed of the generated data and of the balancing job.")
    var seed: UInt64 = 1

    func validate() throws {
        guard SyntheticPreset(rawValue: preset) != nil else {
            let names = SyntheticPreset.allCases.map(\.rawValue)
            throw ValidationError("unknown --preset '\(preset)': expected one of \(names.joined(separator: ", "))" + Spelling.hint(for: preset, among: names))
        }
        try CommandLimits.check("workers", workers, in: CommandLimits.workers)
        if let dimension { try CommandLimits.check("dimension", dimension, in: CommandLimits.dimension) }
    }

    func run() async throws {
        guard let executable = LocalCluster.siblingExecutable() else {
            throw ValidationError("cannot find the tailforge executable to start the daemons from")
        }
        let demo = ClusterDemo(executable: executable, outputDirectory: out, preset: SyntheticPreset(rawValue: preset)!,
                               dimension: dimension, workers: workers, seed: seed)
        let report = try await demo.run { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        print(report.render())
    }
}
