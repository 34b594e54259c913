import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage

/// `tailforge-bench geometry --preset P --seed S [--dimension D] --out FILE.h5`
///
/// Writes what `tailforge synth` with the same preset, seed and dimension drew but does not store: per class its
/// superclass centre, the mean direction μ_c, the modes, the sample concentration κ_c, and for every row of train.h5 and test.h5 (same
/// class-major order) the mode it was drawn around. Scripts/bayes-bound reads it to compute the accuracy of the
/// Bayes-optimal classifier told more than any method is, an upper bound on what any method can reach.
///
/// Datasets: /class_centres and /class_means float32 [C, d]; /modes float32 [M, d] with /mode_offsets int64 [C + 1] (class c's modes
/// are rows mode_offsets[c] ..< mode_offsets[c + 1]); /sample_kappa float64 [C]; /train_mode, /test_mode int32
/// (the mode's index within its class). Root attributes: the preset, seed, dimension, and the generator's class
/// and mode concentrations (absolute κ).
enum GeometryExport {
    static func run(_ arguments: [String]) throws {
        var preset = SyntheticPreset.cifar100LT
        var seed: UInt64 = 0
        var dimension: Int?
        var out: String?
        var it = arguments.makeIterator()
        while let flag = it.next() {
            guard let value = it.next() else { throw BenchmarkError.usage("\(flag) needs a value") }
            switch flag {
            case "--preset":
                guard let p = SyntheticPreset(rawValue: value) else {
                    throw BenchmarkError.usage("unknown --preset \(value): expected one of " + SyntheticPreset.allCases.map(\.rawValue).joined(separator: ", "))
                }
                preset = p
            case "--seed":
                guard let s = UInt64(value) else { throw BenchmarkError.usage("--seed \(value) is not a non-negative integer") }
                seed = s
            case "--dimension":
                guard let d = Int(value), d >= 2 else { throw BenchmarkError.usage("--dimension \(value) is not an integer ≥ 2") }
                dimension = d
            case "--out": out = value
            default: throw BenchmarkError.usage("unknown option \(flag)")
            }
        }
        guard let out else { throw BenchmarkError.usage("geometry needs --out FILE.h5") }

        let config = preset.configuration(dimension: dimension)
        let generator = SyntheticLatentGenerator(config, seed: seed)
        let d = config.dimension
        var centres = [Float](), means = [Float](), modes = [Float](), offsets: [Int64] = [0], kappas = [Double]()
        var trainModes = [Int32](), testModes = [Int32]()
        for c in 0..<config.classes {
            let geometry = generator.geometry(ofClass: c)
            centres.append(contentsOf: geometry.centre)
            means.append(contentsOf: geometry.mean)
            modes.append(contentsOf: geometry.modes.storage)
            offsets.append(offsets.last! + Int64(geometry.modes.rows))
            kappas.append(geometry.sampleKappa)
            trainModes.append(contentsOf: generator.rowsWithModes(ofClass: c, count: config.trainCounts[c], test: false).modes.map(Int32.init))
            testModes.append(contentsOf: generator.rowsWithModes(ofClass: c, count: config.testPerClass, test: true).modes.map(Int32.init))
        }
        let writer = try AtomicHDF5Writer(path: out)
        try writer.writeDataset("class_centres", values: centres, shape: [config.classes, d])
        try writer.writeDataset("class_means", values: means, shape: [config.classes, d])
        try writer.writeDataset("modes", values: modes, shape: [Int(offsets.last!), d])
        try writer.writeDataset("mode_offsets", values: offsets, shape: [offsets.count])
        try writer.writeDataset("sample_kappa", values: kappas, shape: [kappas.count])
        try writer.writeDataset("train_mode", values: trainModes, shape: [trainModes.count])
        try writer.writeDataset("test_mode", values: testModes, shape: [testModes.count])
        try writer.writeAttributes([
            "format": .string("tailforge-synthetic-geometry-v1"),
            "preset": .string(preset.rawValue),
            "generator_seed": .int(Int64(bitPattern: seed)),
            "dimension": .int(Int64(d)),
            "class_kappa": .double(config.classKappaPerDimension * Double(d)),
            "mode_kappa": .double(config.modeKappaPerDimension * Double(d)),
            "tool_version": .string(ToolVersion.current),
        ])
        try writer.commit()
        print("geometry  \(out)  (\(config.classes) classes, \(offsets.last!) modes, \(trainModes.count) train and \(testModes.count) test rows, d = \(d))")
    }
}
