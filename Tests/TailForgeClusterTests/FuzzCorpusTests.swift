import Foundation
import Testing
import TailForgeFuzzTargets
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

/// The fuzz targets outside libFuzzer: the checked-in seed corpus still holds valid inputs, every input that ever
/// crashed a decoder (`Fuzz/regressions/TARGET/`) now runs cleanly, and a short seeded mutation pass over the
/// corpus finds nothing. The long, coverage-guided runs are Scripts/fuzz's (cluster/README.md, "Fuzzing").
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    static func inputs(_ kind: String, _ target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
        let folder = "\(root)/\(kind)/\(target.rawValue)"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.compactMap { name in FileManager.default.contents(atPath: "\(folder)/\(name)").map { (name, Array($0)) } }
    }

    @Test func theSeedsCoverEveryMessageType() {
        #expect(Set(FuzzSeeds.messages.map(\.type)) == Set(MessageType.allCases))
    }

    @Test(arguments: FuzzTarget.allCases)
    func theCheckedInSeedsAreValidInputs(target: FuzzTarget) throws {
        let seeds = Self.inputs("corpus", target)
        #expect(seeds.count >= (try FuzzSeeds.inputs(for: target).count), "regenerate with `tailforge-fuzz seeds Fuzz/corpus`")
        for (name, bytes) in seeds {
            #expect(target.run(bytes) == nil, "\(name)")
            // Valid, not merely harmless: each seed decodes, so mutations start from the deep end of the decoder.
            switch target {
            case .frame: _ = try WireMessage.decode(FuzzFrames.split(bytes))
            case .body:
                // The body target sends no payload frames, so a seed whose message has some stops right after its body decoded.
                do { _ = try WireMessage.decode(FuzzFrames.bodyFrames(bytes)) } catch { #expect(error.code == "payload-count", "\(name): \(error)") }
            case .manifest: _ = try ManifestLoader.parse(String(decoding: bytes, as: UTF8.self), source: name, baseDirectory: "/fuzz")
            case .resolvedManifest:
                let resolved = try ResolvedManifest.decode(Data(bytes))
                try resolved.verify(source: name, toolVersion: resolved.toolVersion)
            case .gradientPayload: #expect(LossAndGradient(serialized: bytes) != nil, "\(name)")
            }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyInputThatOnceCrashedNowRunsCleanly(target: FuzzTarget) {
        for (name, bytes) in Self.inputs("regressions", target) {
            #expect(target.run(bytes) == nil, "\(target.rawValue)/\(name)")
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func aSeededMutationPassFindsNothing(target: FuzzTarget) throws {
        let corpus = try FuzzSeeds.inputs(for: target) + Self.inputs("regressions", target).map(\.bytes)
        var mutator = Mutator(seed: 20_261_201)
        for iteration in 0..<1_500 {
            let input = mutator.mutate(corpus[iteration % corpus.count], others: corpus)
            if let finding = target.run(input) {
                Issue.record("\(target.rawValue), iteration \(iteration): \(finding); input \(input)")
                return
            }
        }
    }

    @Test func theMutatorIsDeterministicAndMakesEveryKindOfMalformedMessage() {
        let valid = FuzzSeeds.messages.map { $0.encode() }
        var first = Mutator(seed: 1), second = Mutator(seed: 1)
        var outcomes: [String: Int] = [:]
        for _ in 0..<2_000 {
            let frames = first.malformedFrames(from: valid)
            #expect(frames == second.malformedFrames(from: valid))
            let outcome: String
            do { outcome = "decoded \(try WireMessage.decode(frames).type)" } catch { outcome = error.code }
            outcomes[outcome.hasPrefix("decoded") ? "decoded" : outcome, default: 0] += 1
        }
        // Every envelope check is reached, so the real-process test exercises each refusal path.
        for code in ["truncated", "bad-magic", "unsupported-version", "unknown-type", "malformed-header", "payload-count", "payload-size", "checksum"] {
            #expect(outcomes[code, default: 0] > 0, "\(code): \(outcomes)")
        }
    }
}
