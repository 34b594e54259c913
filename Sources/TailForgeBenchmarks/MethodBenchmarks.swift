import Foundation
import TailForgeEngine
import TailForgeNumerics
import TailForgeTraining

/// `tailforge-bench method [--preset P] [--seed S] [--samplers none,vmf,gaussian,smote,oracle] [--threads T] [--max-iter N] [--l2 λ]`
///
/// The paper's comparison on generated data: train the linear classifier on the long-tailed set as is
/// (`none`) and balanced by each kernel, and report top-1 overall and on many/medium/few-shot classes, with
/// the time each stage took. Everything in memory; the same code paths as `balance` and `train`.
///
/// `oracle` is the ceiling of every balancing method: each class is topped up to the largest class with further
/// true draws from the generator (the class's train stream continued, so its first rows are the long-tailed
/// rows), i.e. what a perfect sampler of the class's real distribution would add.
enum MethodBenchmarks {
    static func run(_ arguments: [String]) async throws {
        var preset = SyntheticPreset.cifar100LT
        var seed: UInt64 = 1
        var samplers: [SamplerKind] = [.none, .vmf, .gaussian, .smote]
        var oracle = false
        var threads = ProcessInfo.processInfo.activeProcessorCount
        var maxIterations = 200
        var l2 = 1e-4
        var dimension: Int?
        var geometry: [String: Double] = [:]
        var it = arguments.makeIterator()
        while let flag = it.next() {
            guard let value = it.next() else { throw BenchmarkError.usage("\(flag) needs a value") }
            switch flag {
            case "--preset": preset = SyntheticPreset(rawValue: value) ?? preset
            case "--seed": seed = UInt64(value) ?? seed
            case "--samplers":
                let names = value.split(separator: ",").map(String.init)
                oracle = names.contains("oracle")
                samplers = try names.filter { $0 != "oracle" }.map { try SamplerKind(parsing: $0) }
            case "--threads": threads = Int(value) ?? threads
            case "--max-iter": maxIterations = Int(value) ?? maxIterations
            case "--l2": l2 = Double(value) ?? l2
            case "--dimension": dimension = Int(value)
            // Geometry overrides, for studying how hard the generated data is.
            case "--class-kappa", "--mode-kappa", "--sample-kappa-low", "--sample-kappa-high", "--shared-weight":
                geometry[flag] = Double(value)
            default: throw BenchmarkError.usage("unknown option \(flag)")
            }
        }

        var config = preset.configuration(dimension: dimension)
        if let v = geometry["--class-kappa"] { config.classKappaPerDimension = v }
        if let v = geometry["--mode-kappa"] { config.modeKappaPerDimension = v }
        if let v = geometry["--shared-weight"] { config.sharedWeight = v }
        let low = geometry["--sample-kappa-low"] ?? config.sampleKappaPerDimension.lowerBound
        config.sampleKappaPerDimension = low...max(low, geometry["--sample-kappa-high"] ?? config.sampleKappaPerDimension.upperBound)
        let generator = SyntheticLatentGenerator(config, seed: seed)
        var clock = Date()
        let train = generator.split(counts: config.trainCounts, test: false, threads: threads)
        let test = generator.split(counts: [Int](repeating: config.testPerClass, count: config.classes), test: true, threads: threads)
        print(String(format: "method: preset %@, %d classes, d = %d, %d train rows (%d → %d), %d test rows; generated in %.2f s",
                     preset.rawValue, config.classes, config.dimension, train.labels.count, config.trainCounts.first ?? 0,
                     config.trainCounts.last ?? 0, test.labels.count, Date().timeIntervalSince(clock)))
        let input = BalanceInput(normalizedEmbeddings: train.embeddings, labels: train.labels, classCount: config.classes)
        print("sampler   rows       balance_s  train_s  iters  top1    many    medium  few")
        let target = config.trainCounts.max() ?? 0
        for sampler in samplers.map(Optional.some) + (oracle ? [nil] : []) {
            clock = Date()
            var storage = [Float]()
            var labels = [Int32]()
            if let sampler {
                for b in try BalanceRunner.balancedBlocks(input, settings: BalanceSettings(sampler: sampler, seed: seed), threads: threads) {
                    storage.append(contentsOf: b.embeddings.storage)
                    labels.append(contentsOf: repeatElement(Int32(b.classId), count: b.count))
                }
            } else {
                let truth = generator.split(counts: [Int](repeating: target, count: config.classes), test: false, threads: threads)
                storage = truth.embeddings.storage
                labels = truth.labels
            }
            let name = sampler?.rawValue ?? "oracle"
            let balanceSeconds = Date().timeIntervalSince(clock)
            let shard = try TrainingShard(name: name, embeddings: Matrix(rows: labels.count, columns: config.dimension, storage: storage), labels: labels)
            storage = []
            let source = try LocalGradientSource(shards: [shard], classCount: config.classes, threads: threads)
            clock = Date()
            var settings = TrainingSettings(l2: l2)
            settings.optimizer.maxIterations = maxIterations
            let frozenSettings = settings
            let result = try await SoftmaxTrainer.train(source: source, settings: frozenSettings)
            let trainSeconds = Date().timeIntervalSince(clock)
            let predictions = try result.model.predict(test.embeddings)
            let eval = try Evaluation(predictions: predictions, labels: test.labels, classCount: config.classes, trainingCounts: config.trainCounts)
            func group(_ g: Evaluation.ShotGroup) -> String {
                guard let a = eval.groups?.first(where: { $0.group == g })?.accuracy else { return "  -   " }
                return String(format: "%5.1f%%", a * 100)
            }
            print(name.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: "%-10d %-10.2f %-8.1f %-6d %5.1f%%  %@  %@  %@", labels.count,
                         balanceSeconds, trainSeconds, result.report.iterations, eval.top1Accuracy * 100,
                         group(.many), group(.medium), group(.few)))
        }
    }
}
