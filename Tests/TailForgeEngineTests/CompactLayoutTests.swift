import Foundation
import Testing
@testable import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
import TailForgeTestSupport

/// `balance --layout compact` and `materialize`: the compact file holds the real rows, their κ and the recipe;
/// regenerating from it gives the full file byte for byte, and a file that was edited, damaged or written by a
/// sampler that draws other bits is refused with nothing left behind.
@Suite struct CompactLayoutTests {
    static let settingsTable: [BalanceSettings] = [
        BalanceSettings(seed: 5),
        BalanceSettings(target: .medianMultiple(1), seed: 6, subsample: true),
        BalanceSettings(sampler: .smote, seed: 7),
        BalanceSettings(kappa: .classwise, sampler: .gaussian, seed: 8),
        BalanceSettings(sampler: .none, seed: 9),
        BalanceSettings(target: .count(8), seed: 10, subsample: true),
        BalanceSettings(kappa: .fixed(20), seed: 11, driftGuard: 0.5, driftRetries: 2),
        BalanceSettings(target: .count(8), sampler: .smote, seed: 12, subsample: true, driftGuard: 0.7, driftRetries: 1),
    ]

    /// Balances the small input in both layouts; returns (full, compact) paths.
    static func balanceBoth(_ dir: TemporaryDirectory, _ settings: BalanceSettings) throws -> (full: String, compact: String) {
        let input = try BalanceRunnerTests.smallInput(in: dir)
        let full = dir.file("full.h5"), compact = dir.file("compact.h5")
        _ = try BalanceRunner(input: InputSpec(path: input), outputPath: full, settings: settings, threads: 2).run()
        _ = try BalanceRunner(input: InputSpec(path: input), outputPath: compact, settings: settings, threads: 2, layout: .compact).run()
        return (full, compact)
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test(arguments: settingsTable)
    func materializeWritesTheFullFileByteForByte(settings: BalanceSettings) throws {
        let dir = TemporaryDirectory("engine")
        let (full, compact) = try Self.balanceBoth(dir, settings)
        let output = dir.file("materialized.h5")
        let summary = try CompactMaterializer(input: compact, output: output, threads: 3).run()
        #expect(try Self.bytes(output) == Self.bytes(full))
        #expect(summary.outputSHA256 == (try SHA256.hexDigest(ofFileAt: full)))
        #expect(summary.outputContentSHA256 == (try BalancedContentDigest.compute(ofFileAt: full)))
    }

    @Test func theCompactFileHoldsTheRealRowsTheirKappaAndTheRecipeOnly() throws {
        let dir = TemporaryDirectory("engine")
        let (full, compact) = try Self.balanceBoth(dir, BalanceSettings(seed: 5))
        let file = try HDF5File.open(path: compact)
        #expect(!file.contains("embeddings") && !file.contains("is_synthetic"), "an unaware reader must fail, not read real rows only")
        let attributes = try file.rootAttributes()
        #expect(attributes["layout"] == .string("compact"))
        let fullAttributes = try HDF5File.open(path: full).rootAttributes()
        #expect(fullAttributes["layout"] == .string("full"))
        #expect(attributes["balanced_sha256"] != nil && attributes["balanced_sha256"] == fullAttributes["balanced_sha256"])
        for (name, value) in fullAttributes where name != "layout" { #expect(attributes[name] == value, "\(name)") }

        let set = try CompactBalancedFile(path: compact)
        let fullFile = try BalancedDatasetFile(path: full)
        let isSynthetic = try fullFile.readIsSynthetic(), sources = try fullFile.readSourceIndex(), kappa = try fullFile.readKappa()
        let realRows = isSynthetic.indices.filter { isSynthetic[$0] == 0 }
        #expect(set.realEmbeddings.rows == realRows.count && realRows.count == 47)
        let fullEmbeddings = try fullFile.readEmbeddings(rows: 0 ..< fullFile.count)
        #expect(set.realEmbeddings.storage == realRows.flatMap { fullEmbeddings[$0 * 24 ..< ($0 + 1) * 24] })
        #expect(set.realSourceIndex == realRows.map { sources[$0] })
        #expect(try file.openDataset("class_input_rows").read(as: Int64.self) == [30, 12, 4, 1, 0])
        // Each real row's κ is the width of the draws around it: every synthetic row's κ is its centre's.
        let kappaOfSource = Dictionary(uniqueKeysWithValues: zip(set.realSourceIndex, set.realKappa))
        for row in isSynthetic.indices where isSynthetic[row] == 1 { #expect(kappa[row] == kappaOfSource[sources[row]]) }
        #expect(set.realKappa.allSatisfy { $0.isFinite && $0 > 0 })
    }

    @Test(arguments: [1, 2, 5])
    func regenerationDoesNotDependOnThreads(threads: Int) throws {
        let dir = TemporaryDirectory("engine")
        let (full, compact) = try Self.balanceBoth(dir, BalanceSettings(seed: 11))
        let set = try BalancedSetRegenerator.fullSet(try CompactBalancedFile(path: compact), threads: threads, unitRows: false)
        let file = try BalancedDatasetFile(path: full)
        #expect(set.embeddings.storage == (try file.readEmbeddings(rows: 0 ..< file.count)))
        let isSynthetic = try file.readIsSynthetic(), sourceIndex = try file.readSourceIndex()
        #expect(set.isSynthetic == isSynthetic && set.sourceIndex == sourceIndex)
    }

    // MARK: - Refusals

    /// Rewrites a compact file with some attributes or datasets changed, as an edit with h5py would.
    static func rewrite(_ path: String, to output: String, attributes change: [String: AttributeValue] = [:],
                        transform: (String, [Float]) -> [Float] = { $1 }) throws {
        let file = try HDF5File.open(path: path)
        var attributes = try file.rootAttributes()
        attributes.merge(change) { $1 }
        let writer = try AtomicHDF5Writer(path: output)
        try writer.writeAttributes(attributes)
        try writer.writeStrings("class_names", try file.openDataset("class_names").readStrings())
        for name in ["real_embeddings", "real_kappa"] {
            let dataset = try file.openDataset(name)
            try writer.writeDataset(name, values: transform(name, try dataset.read(as: Float.self)), shape: dataset.shape)
        }
        for name in ["real_labels"] { try writer.writeDataset(name, values: try file.openDataset(name).read(as: Int32.self), shape: try file.openDataset(name).shape) }
        for name in ["real_source_index", "class_input_rows"] {
            try writer.writeDataset(name, values: try file.openDataset(name).read(as: Int64.self), shape: try file.openDataset(name).shape)
        }
        try writer.commit()
    }

    @Test func anUntouchedRewriteIsAccepted() throws {
        let dir = TemporaryDirectory("engine")
        let (full, compact) = try Self.balanceBoth(dir, BalanceSettings(seed: 5))
        try Self.rewrite(compact, to: dir.file("copy.h5"))
        _ = try CompactMaterializer(input: dir.file("copy.h5"), output: dir.file("m.h5")).run()
        #expect(try Self.bytes(dir.file("m.h5")) == Self.bytes(full))
    }

    /// Changed settings, input digest, real rows or κ: each is caught by the identity or the κ digest before any
    /// row is regenerated, and no output appears.
    @Test(arguments: ["seed", "input_sha256", "kappa_max", "row", "kappa", "probe"])
    func anEditedCompactFileIsRefused(edit: String) throws {
        let dir = TemporaryDirectory("engine")
        let (_, compact) = try Self.balanceBoth(dir, BalanceSettings(seed: 5))
        let edited = dir.file("edited.h5")
        switch edit {
        case "seed": try Self.rewrite(compact, to: edited, attributes: ["seed": .int(6)])
        case "input_sha256": try Self.rewrite(compact, to: edited, attributes: ["input_sha256": .string(String(repeating: "0", count: 64))])
        case "kappa_max": try Self.rewrite(compact, to: edited, attributes: ["kappa_max": .double(1e5)])
        case "row": try Self.rewrite(compact, to: edited) { name, values in name == "real_embeddings" ? [values[0].nextUp] + values.dropFirst() : values }
        case "kappa": try Self.rewrite(compact, to: edited) { name, values in name == "real_kappa" ? values.map { $0 * 2 } : values }
        default: try Self.rewrite(compact, to: edited, attributes: ["synthetic_probe_sha256": .string(String(repeating: "f", count: 64))])
        }
        let output = dir.file("out.h5")
        #expect {
            try CompactMaterializer(input: edited, output: output).run()
        } throws: { error in
            let text = "\(error)"
            if edit == "probe" {
                guard case CompactFileError.regenerationMismatch = error else { return false }
                return text.contains("sampler draws different bits")
            }
            guard case CompactFileError.digestMismatch = error else { return false }
            return text.contains("edited or damaged") && text.contains(edited)
        }
        #expect(dir.contents.filter { $0.contains("out") }.isEmpty, "nothing left behind: \(dir.contents)")
    }

    @Test func aFullFileGivenToMaterializeIsRefused() throws {
        let dir = TemporaryDirectory("engine")
        let (full, _) = try Self.balanceBoth(dir, BalanceSettings(seed: 5))
        #expect {
            try CompactMaterializer(input: full, output: dir.file("out.h5")).run()
        } throws: { error in
            guard case CompactFileError.notCompact = error else { return false }
            return "\(error)".contains("is a full balanced file, not a compact one")
        }
        #expect(!dir.contents.contains { $0.contains("out") })
    }

    /// An input file (not `balance`'s output at all) is named as such, with the command that makes a compact file.
    @Test func anInputFileGivenToMaterializeIsRefusedAsNotBalanced() throws {
        let dir = TemporaryDirectory("engine")
        let input = try BalanceRunnerTests.smallInput(in: dir)
        #expect {
            try CompactMaterializer(input: input, output: dir.file("out.h5")).run()
        } throws: { error in
            guard case CompactFileError.notCompact(_, nil) = error else { return false }
            return "\(error)".contains("is not a balanced file") && "\(error)".contains("balance \(input) --layout compact")
        }
        #expect(!dir.contents.contains { $0.contains("out") })
    }

    @Test func aTruncatedCompactFileIsRefused() throws {
        let dir = TemporaryDirectory("engine")
        let (_, compact) = try Self.balanceBoth(dir, BalanceSettings(seed: 5))
        let data = try Self.bytes(compact)
        let truncated = dir.file("truncated.h5")
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        #expect {
            try CompactMaterializer(input: truncated, output: dir.file("out.h5")).run()
        } throws: { error in
            "\(error)".contains("\(truncated) is truncated: it has \(data.count / 2) bytes")
        }
        #expect(!dir.contents.contains { $0.contains("out") })
    }

    @Test func materializeRefusesToWriteOverItsInput() throws {
        let dir = TemporaryDirectory("engine")
        let (_, compact) = try Self.balanceBoth(dir, BalanceSettings(seed: 5))
        let before = try Self.bytes(compact)
        #expect(throws: CompactFileError.self) { try CompactMaterializer(input: compact, output: compact).run() }
        #expect(try Self.bytes(compact) == before)
    }
}
