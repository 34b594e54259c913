import Foundation
import Synchronization
import TailForgeNumerics
import TailForgeStorage

/// The generated data sets `tailforge synth` writes: long-tailed train, balanced test, the benchmarks' shapes.
public enum SyntheticPreset: String, Sendable, CaseIterable {
    /// 20 classes, d = 64, 200 → 10 rows per class: seconds to balance and train; for tests and quick demos.
    case small
    /// CIFAR-100-LT at imbalance ratio 100: 100 classes, 10,847 rows, 500 → 5; 100 test rows per class.
    case cifar100LT = "cifar100-lt"
    /// Places-LT's shape: 365 classes, 62,500 rows, 4,980 → 5; 100 test rows per class.
    case placesLT = "places-lt"

    public func configuration(dimension: Int? = nil) -> SyntheticLatentGenerator.Configuration {
        switch self {
        case .small:
            SyntheticLatentGenerator.Configuration(
                dimension: dimension ?? 64,
                trainCounts: LongTailProfile.exponential(classes: 20, maxCount: 200, imbalanceRatio: 20), testPerClass: 50)
        case .cifar100LT:
            SyntheticLatentGenerator.Configuration(dimension: dimension ?? 768, trainCounts: LongTailProfile.cifar100LT, testPerClass: 100)
        case .placesLT:
            SyntheticLatentGenerator.Configuration(dimension: dimension ?? 768, trainCounts: LongTailProfile.placesLT, testPerClass: 100)
        }
    }

    /// The class profile of an unlabeled pool (`synth --unlabeled`).
    public enum UnlabeledProfile: String, CaseIterable, Sendable {
        /// `testPerClass` rows per class: the distribution the test split (and a deployment) has.
        case balanced
        /// `trainCounts[c]` rows per class: a second draw of the training distribution.
        case longTailed = "long-tailed"

        public func counts(_ configuration: SyntheticLatentGenerator.Configuration) -> [Int] {
            switch self {
            case .balanced: [Int](repeating: configuration.testPerClass, count: configuration.classes)
            case .longTailed: configuration.trainCounts
            }
        }
    }

    /// Writes `directory/train.h5` (long-tailed) and `directory/test.h5` (balanced), each atomically, in the
    /// input data contract (/embeddings float32, /labels int32, /class_names); with `unlabeled`, also
    /// `directory/unlabeled.h5`: an unlabeled pool (``SyntheticLatentGenerator/unlabeledPool(counts:threads:)``) with
    /// /embeddings only.
    public func write(to directory: String, seed: UInt64, dimension: Int? = nil, threads: Int = 2,
                      unlabeled: UnlabeledProfile? = nil) throws(StorageError) -> (train: String, test: String) {
        let generator = SyntheticLatentGenerator(configuration(dimension: dimension), seed: seed)
        // A directory made here holds nothing of the user's until train.h5 is committed: an error or an interrupt
        // (Ctrl-C) before then removes it, so a stopped run leaves no empty directory behind.
        let made = FileManager.default.fileExists(atPath: directory) ? nil : TemporaryFiles.registerScratchDirectory(directory)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let train = (directory as NSString).appendingPathComponent("train.h5")
        let test = (directory as NSString).appendingPathComponent("test.h5")
        let pool = (directory as NSString).appendingPathComponent(Self.unlabeledFileName)
        do {
            // Both outputs are checked before minutes of generation (a hard link between them would make one
            // overwrite the other).
            try AtomicHDF5Writer.checkWritable(path: train)
            try AtomicHDF5Writer.checkWritable(path: test, distinctFrom: [train])
            if unlabeled != nil { try AtomicHDF5Writer.checkWritable(path: pool, distinctFrom: [train, test]) }
            try Self.writeSplit(generator, path: train, counts: generator.configuration.trainCounts, test: false, threads: threads, seed: seed)
        } catch {
            if let made {
                try? FileManager.default.removeItem(atPath: directory)
                TemporaryFiles.forgetScratchDirectory(made)
            }
            throw error
        }
        if let made { TemporaryFiles.forgetScratchDirectory(made) }
        try Self.writeSplit(generator, path: test, counts: [Int](repeating: generator.configuration.testPerClass, count: generator.configuration.classes),
                            test: true, threads: threads, seed: seed)
        if let unlabeled {
            let (embeddings, _) = generator.unlabeledPool(counts: unlabeled.counts(generator.configuration), threads: threads)
            let writer = try AtomicHDF5Writer(path: pool)
            try writer.writeDataset("embeddings", values: embeddings.storage, shape: [embeddings.rows, embeddings.columns], chunkRows: 4096)
            try writer.writeAttributes([
                "format": .string("tailforge-synthetic-v1"),
                "generator_seed": .int(Int64(bitPattern: seed)),
                "split": .string("unlabeled"),
                "unlabeled_profile": .string(unlabeled.rawValue),
                "tool_version": .string(ToolVersion.current),
            ])
            try writer.commit()
        }
        return (train, test)
    }

    /// The pool's file name in the output directory.
    public static let unlabeledFileName = "unlabeled.h5"

    static func writeSplit(_ generator: SyntheticLatentGenerator, path: String, counts: [Int], test: Bool, threads: Int, seed: UInt64) throws(StorageError) {
        let d = generator.configuration.dimension
        let (embeddings, labels) = generator.split(counts: counts, test: test, threads: threads)
        let names = counts.indices.map { String(format: "class_%03d", $0) }
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeDataset("embeddings", values: embeddings.storage, shape: [labels.count, d], chunkRows: 4096)
        try writer.writeDataset("labels", values: labels, shape: [labels.count])
        try writer.writeStrings("class_names", names)
        try writer.writeAttributes([
            "format": .string("tailforge-synthetic-v1"),
            "generator_seed": .int(Int64(bitPattern: seed)),
            "split": .string(test ? "test" : "train"),
            "tool_version": .string(ToolVersion.current),
        ])
        try writer.commit()
    }
}
