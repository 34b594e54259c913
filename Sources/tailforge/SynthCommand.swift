import ArgumentParser
import Foundation
import TailForgeEngine
import TailForgeNumerics

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate a long-tailed latent data set with a benchmark's class profile (train.h5, test.h5; with --unlabeled also unlabeled.h5).")

    @Option(help: "Which shape: small, cifar100-lt or places-lt.")
    var preset: String = "small"

    @Option(help: "Seed of the generator.")
    var seed: UInt64 = 0

    @Option(help: "Embedding dimension (default: 64 for small, 768 otherwise).")
    var dimension: Int?

    // `-o`/`--output` as in balance and train: the first thing a user types.
    @Option(name: [.customLong("out"), .customLong("output"), .customShort("o")], help: "Output directory (created if missing).")
    var out: String

    @Option(help: "Also write unlabeled.h5, an unlabeled pool (/embeddings only, rows shuffled) of the same classes: none, balanced (the test split's rows per class) or long-tailed (the training split's).")
    var unlabeled: String = "none"

    @Option(help: "Worker threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard SyntheticPreset(rawValue: preset) != nil else {
            let names = SyntheticPreset.allCases.map(\.rawValue)
            throw ValidationError("unknown --preset '\(preset)': expected one of " + names.joined(separator: ", ") + Spelling.hint(for: preset, among: names))
        }
        let profiles = ["none"] + SyntheticPreset.UnlabeledProfile.allCases.map(\.rawValue)
        guard profiles.contains(unlabeled) else {
            throw ValidationError("unknown --unlabeled '\(unlabeled)': expected one of " + profiles.joined(separator: ", ") + Spelling.hint(for: unlabeled, among: profiles))
        }
        if let dimension { try CommandLimits.check("dimension", dimension, in: CommandLimits.dimension) }
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
    }

    func run() throws {
        let preset = SyntheticPreset(rawValue: preset)!
        let profile = SyntheticPreset.UnlabeledProfile(rawValue: unlabeled)
        let paths = try preset.write(to: out, seed: seed, dimension: dimension, threads: threads, unlabeled: profile)
        let cfg = preset.configuration(dimension: dimension)
        print("train  \(paths.train)  (\(cfg.trainCounts.reduce(0, +)) rows, \(cfg.classes) classes, \(cfg.trainCounts.first ?? 0) → \(cfg.trainCounts.last ?? 0), d = \(cfg.dimension))")
        print("test   \(paths.test)  (\(cfg.testPerClass * cfg.classes) rows, \(cfg.testPerClass) per class)")
        if let profile {
            let path = (out as NSString).appendingPathComponent(SyntheticPreset.unlabeledFileName)
            print("pool   \(path)  (\(profile.counts(cfg).reduce(0, +)) unlabeled rows, \(profile.rawValue), shuffled)")
        }
    }
}
