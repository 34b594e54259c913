import Foundation
import Testing
@testable import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
import TailForgeTestSupport

/// Writes an input file in the contract's layout; `raw` embeddings are written as given (not normalised).
func writeInput(_ path: String, embeddings: [Float], labels: [Int32], dimension: Int, classNames: [String]? = nil) throws {
    let w = try AtomicHDF5Writer(path: path)
    try w.writeDataset("embeddings", values: embeddings, shape: [labels.count, dimension])
    try w.writeDataset("labels", values: labels, shape: [labels.count])
    if let classNames { try w.writeStrings("class_names", classNames) }
    try w.commit()
}

@Suite struct BalanceRunnerTests {
    /// A small long-tailed set: class sizes 30, 12, 4, 1, 0 (an empty class), d = 24.
    static func smallInput(in dir: TemporaryDirectory, scale: Float = 3) throws -> String {
        let sizes = [30, 12, 4, 1, 0]
        var embeddings: [Float] = [], labels: [Int32] = []
        for (c, n) in sizes.enumerated() where n > 0 {
            let rows = clusteredRows(count: n, dimension: 24, kappa: 30, seed: UInt64(c + 10))
            embeddings += rows.storage.map { $0 * scale }  // not unit norm: the engine must normalise
            labels += repeatElement(Int32(c), count: n)
        }
        // Interleave classes so "input order" is not class order.
        let order = Array(0..<labels.count).sorted { ($0 * 7919) % 47 < ($1 * 7919) % 47 }
        let path = dir.file("in.h5")
        try writeInput(path, embeddings: order.flatMap { embeddings[$0 * 24 ..< ($0 + 1) * 24] }, labels: order.map { labels[$0] },
                       dimension: 24, classNames: (0..<5).map { "c\($0)" })
        return path
    }

    @Test func writesTheDataContract() throws {
        let dir = TemporaryDirectory("engine")
        let input = try Self.smallInput(in: dir)
        let out = dir.file("out.h5")
        let summary = try BalanceRunner(input: InputSpec(path: input), outputPath: out, settings: BalanceSettings(seed: 5), threads: 2).run()
        #expect(summary.target == 30)
        #expect(summary.realRows == 47 && summary.syntheticRows == 18 + 26 + 29)
        #expect(summary.emptyClasses == [4])
        #expect(summary.fallbackClasses == [3])

        let f = try BalancedDatasetFile(path: out)
        #expect(f.count == 120 && f.dimension == 24)
        let labels = try f.readLabels(), synthetic = try f.readIsSynthetic(), source = try f.readSourceIndex(), kappa = try f.readKappa()
        #expect(labels == [Int32](repeating: 0, count: 30) + [Int32](repeating: 1, count: 30) + [Int32](repeating: 2, count: 30) + [Int32](repeating: 3, count: 30))
        let emb = try f.readEmbeddings(rows: 0..<120)
        let original = try LabeledEmbeddingsFile(path: input)
        let inputLabels = try original.readLabels()
        let inputRows = try original.readEmbeddings(rows: 0..<original.count)
        for i in 0..<120 {
            let row = emb[i * 24 ..< (i + 1) * 24]
            let norm = row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            #expect(inputLabels[Int(source[i])] == labels[i])
            if synthetic[i] == 0 {
                #expect(kappa[i] == 0)
                // A real row is its input row, normalised: compare directions.
                let x = inputRows[Int(source[i]) * 24 ..< (Int(source[i]) + 1) * 24]
                let xn = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                let cosine = zip(row, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / xn
                #expect(abs(cosine - 1) < 1e-6)
            } else {
                #expect(kappa[i] >= Float(BalanceSettings.defaultKappaMin) && kappa[i] <= Float(BalanceSettings.defaultKappaMax))
            }
        }
        // Real rows of a class keep input order.
        let realSources = (0..<30).map { source[$0] }
        #expect(realSources == realSources.sorted())
        #expect(f.attributes["input_sha256"] == .string(try SHA256.hexDigest(ofFileAt: input)))
        #expect(f.attributes["seed"] == .int(5))
        #expect(f.attributes["sampler"] == .string("vmf"))
        #expect(dir.contents == ["in.h5", "out.h5"])
    }

    @Test func outputBytesDoNotDependOnThreadCount() throws {
        let dir = TemporaryDirectory("engine")
        let input = try Self.smallInput(in: dir)
        var digests: [String] = []
        for threads in [1, 2, 3] {
            let out = dir.file("out\(threads).h5")
            _ = try BalanceRunner(input: InputSpec(path: input), outputPath: out, settings: BalanceSettings(seed: 9), threads: threads, chunkRows: 7).run()
            digests.append(try SHA256.hexDigest(ofFileAt: out))
        }
        #expect(Set(digests).count == 1)
        let other = dir.file("seed10.h5")
        _ = try BalanceRunner(input: InputSpec(path: input), outputPath: other, settings: BalanceSettings(seed: 10), threads: 2, chunkRows: 7).run()
        #expect(try SHA256.hexDigest(ofFileAt: other) != digests[0])
    }

    @Test func summaryCarriesTheFileAndContentDigestsWithOrWithoutTheFileDigest() throws {
        let dir = TemporaryDirectory("engine")
        let input = try Self.smallInput(in: dir)
        let full = dir.file("full.h5"), quick = dir.file("quick.h5")
        let summary = try BalanceRunner(input: InputSpec(path: input), outputPath: full, settings: BalanceSettings(seed: 9), threads: 2, chunkRows: 7).run()
        #expect(summary.outputSHA256 == (try SHA256.hexDigest(ofFileAt: full)))
        let content = try #require(summary.outputContentSHA256)
        #expect(content == (try BalancedContentDigest.compute(ofFileAt: full)))
        #expect(summary.render().contains("content sha256    \(content["embeddings"]!)  /embeddings"))
        // `--no-digest` skips only the second read: the content digests come from the write itself. A different
        // chunking gives a different file but the same content.
        let skipped = try BalanceRunner(input: InputSpec(path: input), outputPath: quick, settings: BalanceSettings(seed: 9), threads: 1,
                                        chunkRows: 5, computeOutputDigest: false).run()
        #expect(skipped.outputSHA256 == nil)
        #expect(skipped.outputContentSHA256 == content)
        #expect(try SHA256.hexDigest(ofFileAt: quick) != summary.outputSHA256)
    }

    @Test(arguments: [SamplerKind.gaussian, .smote, .none])
    func everySamplerProducesABalancedFile(sampler: SamplerKind) throws {
        let dir = TemporaryDirectory("engine")
        let input = try Self.smallInput(in: dir)
        let out = dir.file("out.h5")
        let summary = try BalanceRunner(input: InputSpec(path: input), outputPath: out, settings: BalanceSettings(sampler: sampler)).run()
        #expect(summary.realRows + summary.syntheticRows == (sampler == .none ? 47 : 120))
        #expect(try BalancedDatasetFile(path: out).count == summary.realRows + summary.syntheticRows)
    }

    @Test func refusesToOverwriteItsInput() throws {
        let dir = TemporaryDirectory("engine")
        let input = try Self.smallInput(in: dir)
        #expect(throws: BalanceError.self) {
            try BalanceRunner(input: InputSpec(path: input), outputPath: dir.path + "/./in.h5", settings: BalanceSettings()).run()
        }
    }

    @Test(arguments: [(Float.nan, "NaN"), (0, "zeros")])
    func badRowsAreReportedByRowNumberAndLeaveNoOutput(value: Float, word: String) throws {
        let dir = TemporaryDirectory("engine")
        var embeddings = clusteredRows(count: 6, dimension: 4, kappa: 5, seed: 1).storage
        if value.isNaN { embeddings[4 * 4 + 2] = value } else { for j in 0..<4 { embeddings[4 * 4 + j] = 0 } }
        let input = dir.file("in.h5")
        try writeInput(input, embeddings: embeddings, labels: [0, 0, 0, 1, 1, 1], dimension: 4)
        do {
            _ = try BalanceRunner(input: InputSpec(path: input), outputPath: dir.file("out.h5"), settings: BalanceSettings()).run()
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("row 4"))
            #expect(error.description.contains(word))
        }
        #expect(dir.contents == ["in.h5"])
    }

    /// float64 rows at 1e-50 and 1e39 were refused as "all zeros" and "infinite" when cast to Float before
    /// normalising; normalised in Double they balance to the same rows as the data at scale 1.
    @Test(arguments: [1e-50, 1e39])
    func float64InputFarOutsideFloatRangeBalancesLikeScaleOne(scale: Double) throws {
        let dir = TemporaryDirectory("engine")
        let rows = clusteredRows(count: 12, dimension: 8, kappa: 20, seed: 4)
        let labels: [Int32] = (0 ..< 12).map { Int32($0 % 3) }
        func write(_ name: String, _ factor: Double) throws -> String {
            let w = try AtomicHDF5Writer(path: dir.file(name))
            try w.writeDataset("embeddings", values: rows.storage.map { Double($0) * factor }, shape: [12, 8])
            try w.writeDataset("labels", values: labels, shape: [12])
            try w.commit()
            return dir.file(name)
        }
        let reference = try BalanceInput.load(InputSpec(path: try write("one.h5", 1)))
        let scaled = try BalanceInput.load(InputSpec(path: try write("scaled.h5", scale)))
        // The scaled copy is within one Double ulp of the exact multiple, far below a Float ulp.
        for (a, b) in zip(reference.embeddings.storage, scaled.embeddings.storage) { #expect(abs(a - b) <= a.ulp) }
        _ = try BalanceRunner(input: InputSpec(path: dir.file("scaled.h5")), outputPath: dir.file("out.h5"), settings: BalanceSettings()).run()
    }

    @Test func classCountsOutOfRangeAreRefusedBeforeAllocating() throws {
        let dir = TemporaryDirectory("engine")
        let input = dir.file("in.h5")
        try writeInput(input, embeddings: clusteredRows(count: 2, dimension: 4, kappa: 5, seed: 1).storage, labels: [0, 2_000_000_000], dimension: 4)
        #expect(throws: BalanceError.self) { try BalanceInput.load(InputSpec(path: input)) }
        #expect(throws: BalanceError.self) { try BalanceInput.load(InputSpec(path: input, classCount: -5)) }
    }

    @Test func labelsBeyondTheGivenClassCountAreRejected() throws {
        let dir = TemporaryDirectory("engine")
        let input = dir.file("in.h5")
        try writeInput(input, embeddings: clusteredRows(count: 4, dimension: 4, kappa: 5, seed: 1).storage, labels: [0, 1, 2, 1], dimension: 4)
        #expect(throws: BalanceError.self) {
            try BalanceRunner(input: InputSpec(path: input, classCount: 2), outputPath: dir.file("out.h5"), settings: BalanceSettings()).run()
        }
        #expect(dir.contents == ["in.h5"])
    }

    @Test func missingInputFileIsAClearError() {
        let dir = TemporaryDirectory("engine")
        do {
            _ = try BalanceRunner(input: InputSpec(path: dir.file("nope.h5")), outputPath: dir.file("out.h5"), settings: BalanceSettings()).run()
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("nope.h5"))
        }
        #expect(dir.contents.isEmpty)
    }
}
