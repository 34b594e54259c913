import Foundation
import Testing
import TailForgeStorage

/// `train --l2 auto` as a user runs it: a bad grid is refused before any work with a message naming the flag and
/// the entry, and writes nothing; a good one prints every candidate and trains the model a plain `--l2` run gives.
@Suite struct L2SearchCommandTests {
    static let sharedFixture = Task { try await CLIFixture() }

    struct BadGrid: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        /// What the message must contain.
        var names: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let badGrids: [BadGrid] = [
        BadGrid(arguments: ["--l2", "auto", "--l2-grid", "1e-6,abc"], names: "'abc' is not one"),
        BadGrid(arguments: ["--l2", "auto", "--l2-grid", "1e-6,,1e-4"], names: "an empty entry"),
        BadGrid(arguments: ["--l2", "auto", "--l2-grid", ""], names: "--l2-grid"),
        BadGrid(arguments: ["--l2", "auto", "--l2-grid=-1e-6"], names: "'-1e-6' is not one"),
        BadGrid(arguments: ["--l2", "auto", "--l2-grid", "1e-5,1e-5"], names: "1e-5 is given twice"),
        BadGrid(arguments: ["--l2", "atuo"], names: "or auto to choose it on held-out rows; got 'atuo' (did you mean auto?)"),
        BadGrid(arguments: ["--l2", "big"], names: "got 'big'\n"),
        BadGrid(arguments: ["--l2-grid", "1e-6,1e-5"], names: "give --l2 auto with it"),
        BadGrid(arguments: ["--l2", "auto", "--calibration-holdout", "0.9"], names: "--calibration-holdout"),
    ]

    @Test(arguments: badGrids)
    func aBadGridIsRefusedAndWritesNothing(_ bad: BadGrid) async throws {
        let fixture = try await Self.sharedFixture.value
        let output = "refused-\(UUID().uuidString).h5"
        let outcome = try await fixture.runner.run(["train", "data/train.h5", "-o", output] + bad.arguments, in: fixture.directory)
        #expect(outcome.status != 0 && !outcome.killedBySignal)
        #expect(outcome.stderr.contains(bad.names), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fixture.path(output)))
    }

    @Test func theSearchPrintsEveryCandidateAndTrainsThePlainModelOfTheChosenLambda() async throws {
        let fixture = try await Self.sharedFixture.value
        let common = ["--max-iter", "30", "--threads", "1", "--class-weight", "balanced"]
        let searched = try await fixture.runner.run(
            ["train", "data/train.h5", "-o", "auto.h5", "--l2", "auto", "--l2-grid", "1e-5, 1e-1", "--calibrate"] + common,
            in: fixture.directory)
        #expect(searched.status == 0, "\(searched.stderr)")
        for l2 in ["0.1", "1e-05"] { #expect(searched.stdout.contains("λ = \(l2)"), "\(searched.stdout)") }
        #expect(searched.stdout.contains("← chosen") && searched.stdout.contains("chosen λ = "), "\(searched.stdout)")
        // Each candidate's line says what its calibration fit cost.
        let costs = searched.stdout.split(separator: "\n").filter { $0.hasPrefix("λ = ") && $0.contains(" iterations, ") && $0.contains(" evaluations, ") }
        #expect(costs.count == 2, "\(searched.stdout)")
        #expect(searched.stderr.contains("calibration fit 2 of 2: λ = 1e-05, warm-started"), "\(searched.stderr)")
        let auto = try SoftmaxModelFileReader.weightsAndL2(fixture.path("auto.h5"))
        let plain = try await fixture.runner.run(["train", "data/train.h5", "-o", "plain.h5", "--l2", "\(auto.l2)"] + common,
                                                 in: fixture.directory)
        #expect(plain.status == 0, "\(plain.stderr)")
        let reference = try SoftmaxModelFileReader.weightsAndL2(fixture.path("plain.h5"))
        #expect(auto.weights == reference.weights && auto.bias == reference.bias)
        let evaluated = try await fixture.runner.run(["evaluate", "auto.h5", "data/test.h5"], in: fixture.directory)
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
    }
}

/// The stored bytes of a model's weights and biases, and its λ, read without the training library.
enum SoftmaxModelFileReader {
    static func weightsAndL2(_ path: String) throws -> (weights: [UInt32], bias: [UInt32], l2: Double) {
        let file = try HDF5File.open(path: path)
        let l2 = try #require(try file.rootAttributes()["l2"]?.doubleValue)
        return (try file.readDataset("weights", as: Float.self).values.map(\.bitPattern),
                try file.readDataset("bias", as: Float.self).values.map(\.bitPattern), l2)
    }
}
