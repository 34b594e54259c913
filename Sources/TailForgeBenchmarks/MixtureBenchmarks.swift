import Foundation
import TailForgeEngine
import TailForgeNumerics
import TailForgeTraining

/// `tailforge-bench mixture [--preset P] [--seed S] [--threads T] [--folds F] [--select yes|no]`
///
/// The generative vMF mixture classifier on generated data, in memory: one fit at K_max = 3, κ₀ = 2d (the
/// settings the issue-12 screen settled near) and the scoring of the test set, timed, then (unless `--select no`)
/// the stratified k-fold choice of K_max, κ₀ and τ on the default grid with its refit. Reports top-1 overall and
/// on many/medium/few-shot classes for each. The Python screen took 4.5 s per fit and 1.4 s per 10,000 rows scored.
enum MixtureBenchmarks {
    static func run(_ arguments: [String]) async throws {
        var preset = SyntheticPreset.cifar100LT
        var seed: UInt64 = 1
        var threads = ProcessInfo.processInfo.activeProcessorCount
        var folds = 5
        var select = true
        var it = arguments.makeIterator()
        while let flag = it.next() {
            guard let value = it.next() else { throw BenchmarkError.usage("\(flag) needs a value") }
            switch flag {
            case "--preset": preset = SyntheticPreset(rawValue: value) ?? preset
            case "--seed": seed = UInt64(value) ?? seed
            case "--threads": threads = Int(value) ?? threads
            case "--folds": folds = Int(value) ?? folds
            case "--select": select = value != "no"
            default: throw BenchmarkError.usage("unknown option \(flag)")
            }
        }
        let config = preset.configuration(dimension: nil)
        let generator = SyntheticLatentGenerator(config, seed: seed)
        let train = generator.split(counts: config.trainCounts, test: false, threads: threads)
        let test = generator.split(counts: [Int](repeating: config.testPerClass, count: config.classes), test: true, threads: threads)
        print(String(format: "mixture: preset %@, %d classes, d = %d, %d train rows, %d test rows, %d threads",
                     preset.rawValue, config.classes, config.dimension, train.labels.count, test.labels.count, threads))

        func report(_ name: String, _ model: VMFMixtureModel, _ adjustment: LogitAdjustment?, fitSeconds: Double) throws {
            let clock = Date()
            let predictions = try model.predict(test.embeddings, adjustment: adjustment, threads: threads)
            let scoreSeconds = Date().timeIntervalSince(clock)
            let eval = try Evaluation(predictions: predictions, labels: test.labels, classCount: config.classes, trainingCounts: config.trainCounts)
            func group(_ g: Evaluation.ShotGroup) -> String {
                guard let a = eval.groups?.first(where: { $0.group == g })?.accuracy else { return "  -   " }
                return String(format: "%5.2f%%", a * 100)
            }
            print(name.padding(toLength: 34, withPad: " ", startingAt: 0)
                  + String(format: "fit %7.2f s  score %6.2f s (%.2f s per 10k rows)  modes %4d  top1 %5.2f%%  many %@  medium %@  few %@",
                           fitSeconds, scoreSeconds, scoreSeconds * 1e4 / Double(test.labels.count), model.modeCount,
                           eval.top1Accuracy * 100, group(.many), group(.medium), group(.few)))
        }

        let d = Double(config.dimension)
        var clock = Date()
        let fit = try VMFMixtureFitter.fit(rows: train.embeddings, labels: train.labels, classCount: config.classes,
                                           settings: VMFMixtureSettings(maxModes: 3, priorConcentration: 2 * d, seed: seed), threads: threads)
        try report("fit K_max 3, κ₀ 2d, τ 0", fit.model, nil, fitSeconds: Date().timeIntervalSince(clock))

        guard select else { return }
        clock = Date()
        let selection = try VMFMixtureSelection.run(rows: train.embeddings, labels: train.labels, classCount: config.classes,
                                                    settings: VMFMixtureSelectionSettings(folds: folds, seed: seed), threads: threads)
        let total = Date().timeIntervalSince(clock)
        for candidate in selection.candidates {
            print(String(format: "  K_max %d  κ₀ %.1fd  best τ %.2f  out-of-fold balanced accuracy %.4f", candidate.maxModes,
                         candidate.priorConcentrationMultiple, selection.tauGrid[candidate.bestTauIndex], candidate.bestBalancedAccuracy))
        }
        print(String(format: "selection: %d folds %.2f s, refit %.2f s, total %.2f s", folds, selection.foldSeconds, selection.refitSeconds, total))
        try report(String(format: "chosen K_max %d, κ₀ %.1fd, τ %.2f", selection.maxModes, selection.chosen.priorConcentrationMultiple, selection.tau),
                   selection.fit.model, selection.adjustment, fitSeconds: selection.refitSeconds)
    }
}
