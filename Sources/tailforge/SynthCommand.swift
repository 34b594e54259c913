import ArgumentParser
import Foundation
import TailForgeEngine
import TailForgeNumerics

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate a long-tailed latent data set with a benchmark's class profile (train.h5, test.h5).")

    @Option(help: "Which shape: small, cifar100-lt or places-lt.")
    var preset: String = "small"

    @Option(help: "Seed of the generator.")
    var seed: UInt64 = 0

    @Option(help: "Embedding dimension (default: 64 for small, 768 otherwise).")
    var dimension: Int?

    // `-o`/`--output` as in balance and train: the first thing a user types.
    @Option(name: [.customLong("out"), .customLong("output"), .customShort("o")], help: "Output directory (created if missing).")
    var out: String

    @Option(help: "Worker threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard SyntheticPreset(rawValue: preset) != nil else {
            let names = SyntheticPreset.allCases.map(\.rawValue)
            throw ValidationError("unknown --preset '\(preset)': expected one of " + names.joined(separator: ", ") + Spelling.hint(for: preset, among: names))
        }
        if let dimension { try CommandLimits.check("dimension", dimension, in: CommandLimits.dimension) }
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
    }

    func run() throws {
        let preset = SyntheticPreset(rawValue: preset)!
        let paths = try preset.write(to: out, seed: seed, dimension: dimension, threads: threads)
        let cfg = preset.configuration(dimension: dimension)
        print("train  \(paths.train)  (\(cfg.trainCounts.reduce(0, +)) rows, \(cfg.classes) classes, \(cfg.trainCounts.first ?? 0) → \(cfg.trainCounts.last ?? 0), d = \(cfg.dimension))")
        print("test   \(paths.test)  (\(cfg.testPerClass * cfg.classes) rows, \(cfg.testPerClass) per class)")
    }
}
