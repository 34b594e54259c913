import Foundation
import Testing
@testable import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
import TailForgeTestSupport

@Suite struct SyntheticLatentGeneratorTests {
    /// SHA-256 of the float bytes of the rows, class-major, `counts[c]` rows of class c.
    static func digest(_ generator: SyntheticLatentGenerator, counts: [Int], test: Bool) -> String {
        var bytes = [UInt8]()
        for (c, n) in counts.enumerated() {
            for v in generator.rows(ofClass: c, count: n, test: test).storage {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
        return SHA256.hexDigest(of: bytes)
    }

    // Every data set `synth` wrote with this tool version must be the one it writes now, or figures could not be
    // reproduced. The digests were taken with tool version 0.2.0 before the generator exported its geometry
    // (0ea1115), which kept them, and re-taken for 0.3.0, whose normal stream (the 1,024-layer ziggurat) the
    // generator draws from.
    @Test func rowsAreTheBytesTheGeneratorAlwaysGave() {
        let small = SyntheticLatentGenerator(SyntheticPreset.small.configuration(dimension: 16), seed: 3)
        #expect(Self.digest(small, counts: small.configuration.trainCounts, test: false)
                == "7199fdd8d3f1be9c23b89fb303fa6efc854acd1d97c834d070ca2a5f0cb0ab16")
        #expect(Self.digest(small, counts: [Int](repeating: 7, count: 20), test: true)
                == "1c87e88aa15a98808b5c821ec1cbe49e1d3a0cbffa1fc09e44a74710ca2a2a2e")
        let cifar = SyntheticLatentGenerator(SyntheticPreset.cifar100LT.configuration(), seed: 1)
        #expect(Self.digest(cifar, counts: [5] + [Int](repeating: 0, count: 18) + [12], test: false)
                == "4fe6af44e50e98409d1c664e4620975e3295c4aa1f1ad464a1381d195bcefc86")
    }

    @Test(arguments: [false, true])
    func rowsWithModesAreTheRowsAndNameAModeOfTheClass(test: Bool) {
        let generator = SyntheticLatentGenerator(SyntheticPreset.small.configuration(dimension: 32), seed: 11)
        var modeCounts = Set<Int>()
        for c in 0..<generator.configuration.classes {
            let geometry = generator.geometry(ofClass: c)
            let (rows, modes) = generator.rowsWithModes(ofClass: c, count: 60, test: test)
            #expect(rows == generator.rows(ofClass: c, count: 60, test: test))
            #expect(modes.count == 60)
            #expect(modes.allSatisfy { (0..<geometry.modes.rows).contains($0) }, "class \(c): modes \(modes)")
            modeCounts.insert(geometry.modes.rows)
            // Unit norm up to Float rounding of a 32-term sum.
            #expect(abs(geometry.mean.reduce(0) { $0 + Double($1) * Double($1) } - 1) < 1e-5)
            #expect(abs(geometry.centre.reduce(0) { $0 + Double($1) * Double($1) } - 1) < 1e-5)
            // Classes of one superclass share its centre.
            #expect(geometry.centre == generator.geometry(ofClass: c / generator.configuration.superclassSize * generator.configuration.superclassSize).centre)
            let kappa = generator.configuration.sampleKappaPerDimension
            #expect(geometry.sampleKappa >= kappa.lowerBound * 32 && geometry.sampleKappa <= kappa.upperBound * 32)
        }
        #expect(modeCounts.isSubset(of: [1, 2, 3]) && modeCounts.count > 1)
    }

    /// The exported modes are the ones the rows were drawn around: each row is closer, on average over a class's
    /// rows, to its own mode than to the class's other modes.
    @Test func rowsLieAroundTheirExportedMode() {
        let generator = SyntheticLatentGenerator(SyntheticPreset.small.configuration(dimension: 64), seed: 5)
        var checked = 0
        for c in 0..<generator.configuration.classes {
            let geometry = generator.geometry(ofClass: c)
            guard geometry.modes.rows > 1 else { continue }
            let (rows, modes) = generator.rowsWithModes(ofClass: c, count: 400, test: false)
            let d = rows.columns
            func cosine(_ i: Int, _ k: Int) -> Double {
                (0..<d).reduce(0) { $0 + Double(rows.storage[i * d + $1]) * Double(geometry.modes.storage[k * d + $1]) }
            }
            var own = 0.0, other = 0.0, others = 0
            for i in 0..<rows.rows {
                own += cosine(i, modes[i])
                for k in 0..<geometry.modes.rows where k != modes[i] { other += cosine(i, k); others += 1 }
            }
            own /= Double(rows.rows)
            other /= Double(others)
            // At d = 64, κ = 0.3–0.6·d a row's cosine to its mode has mean ≈ 0.3–0.5 and sd ≈ 0.1, so a mean over
            // 400 rows is within ±0.02 (4 sd). Modes drawn at κ = 3·d sit at cosine ≈ 0.7 to each other, so the
            // mean cosine to another mode is ≈ 0.7× the own one, ≥ 0.08 lower; rows with wrong mode indices
            // would show no gap.
            #expect(own > other + 0.02, "class \(c): mean cosine to own mode \(own), to other modes \(other)")
            checked += 1
        }
        #expect(checked > 5)
    }

    /// The unlabeled pool: the profile's rows of every class, from a stream of their own (no row of the train or test
    /// split), in a shuffled order that is the same for any thread count.
    @Test func theUnlabeledPoolIsAnIndependentShuffledDrawOfEveryClass() {
        let generator = SyntheticLatentGenerator(SyntheticPreset.small.configuration(dimension: 16), seed: 3)
        let counts = SyntheticPreset.UnlabeledProfile.longTailed.counts(generator.configuration)
        let (pool, labels) = generator.unlabeledPool(counts: counts, threads: 1)
        #expect(generator.unlabeledPool(counts: counts, threads: 3).embeddings == pool)
        #expect(pool.rows == counts.reduce(0, +) && labels.count == pool.rows)
        #expect((0 ..< counts.count).map { c in labels.count(where: { $0 == c }) } == counts)
        // Shuffled: not class-major.
        #expect(labels != labels.sorted())
        // Each pool row is its class's pool-stream row, and none is a train or test row.
        let classMajor = generator.split(counts: counts, of: .unlabeled, threads: 1)
        let train = generator.split(counts: counts, test: false, threads: 1).embeddings
        let test = generator.split(counts: counts, test: true, threads: 1).embeddings
        let poolRows = Set((0 ..< pool.rows).map { Array(pool.row($0)) })
        #expect(poolRows == Set((0 ..< classMajor.embeddings.rows).map { Array(classMajor.embeddings.row($0)) }))
        #expect(poolRows.isDisjoint(with: (0 ..< train.rows).map { Array(train.row($0)) }))
        #expect(poolRows.isDisjoint(with: (0 ..< test.rows).map { Array(test.row($0)) }))
        #expect(SyntheticPreset.UnlabeledProfile.balanced.counts(generator.configuration) == [Int](repeating: 50, count: 20))
    }

    // As the train/test digests above: a pool `synth --unlabeled` wrote must be the one it writes now, row order
    // included. Taken with tool version 0.3.0 when the pool was added; a second implementation of the same streams
    // (5<<32 + c rows, a Fisher–Yates shuffle on 6<<32) gave the same digest.
    @Test func theUnlabeledPoolIsTheBytesTheGeneratorAlwaysGave() {
        let generator = SyntheticLatentGenerator(SyntheticPreset.small.configuration(dimension: 16), seed: 3)
        let counts = SyntheticPreset.UnlabeledProfile.balanced.counts(generator.configuration)
        var bytes = [UInt8]()
        for v in generator.unlabeledPool(counts: counts, threads: 2).embeddings.storage {
            withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        #expect(SHA256.hexDigest(of: bytes) == "5082f90942665c32bf06480d9c804e72239ab1b6919a91d61dfdd139146f4bce")
        let otherSeed = SyntheticLatentGenerator(generator.configuration, seed: 4)
        #expect(otherSeed.unlabeledPool(counts: counts, threads: 2).embeddings != generator.unlabeledPool(counts: counts, threads: 2).embeddings)
    }

    /// unlabeled.h5 holds exactly the generator's pool and nothing else: no dataset besides /embeddings (not only no
    /// /labels or /class_names), the attributes that say what it is.
    @Test func theBalancedPoolFileIsTheGeneratorsPoolAlone() throws {
        try withTemporaryDirectory("synth-pool") { directory in
            _ = try SyntheticPreset.small.write(to: directory, seed: 3, dimension: 16, threads: 2, unlabeled: .balanced)
            let file = try HDF5File.open(path: directory + "/" + SyntheticPreset.unlabeledFileName)
            #expect(try file.datasetNames == ["embeddings"])
            let generator = SyntheticLatentGenerator(SyntheticPreset.small.configuration(dimension: 16), seed: 3)
            let expected = generator.unlabeledPool(counts: SyntheticPreset.UnlabeledProfile.balanced.counts(generator.configuration), threads: 1).embeddings
            let embeddings = try file.readDataset("embeddings", as: Float.self)
            #expect(embeddings.shape == [20 * 50, 16])
            #expect(embeddings.values == expected.storage)
            let attributes = try file.rootAttributes()
            #expect(attributes["split"] == .string("unlabeled"))
            #expect(attributes["unlabeled_profile"] == .string("balanced"))
            #expect(attributes["generator_seed"] == .int(3))
            #expect(attributes["tool_version"] == .string(ToolVersion.current))
        }
    }

    /// An unwritable pool path fails before any generation, so not even train.h5 is written.
    @Test func anUnwritablePoolPathFailsBeforeAnythingIsWritten() throws {
        try withTemporaryDirectory("synth-pool") { directory in
            try FileManager.default.createDirectory(atPath: directory + "/" + SyntheticPreset.unlabeledFileName, withIntermediateDirectories: false)
            #expect(throws: StorageError.self) {
                try SyntheticPreset.small.write(to: directory, seed: 3, dimension: 8, threads: 1, unlabeled: .balanced)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [SyntheticPreset.unlabeledFileName])
        }
    }
}

