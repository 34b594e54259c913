import Foundation
import Testing
import TailForgeNumerics
@testable import TailForgeTraining

/// Scoring with a given vMF mixture: the density formula, unit-row handling, logits, top-k, threads, bad input.
@Suite struct VMFMixtureModelTests {
    /// A model of 3 classes with 1, 2 and 3 modes, θ_k random with norms from ~0.5d to ~50d (as fitted models have).
    static func model(dimension: Int, seed: UInt64 = 1) throws -> VMFMixtureModel {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 9)
        let modes = [1, 2, 3]
        var parameters: [Double] = [], weights: [Double] = []
        for (c, count) in modes.enumerated() {
            let raw = (0 ..< count).map { _ in Double.random(in: 0.1 ... 1, using: &rng) }
            let total = raw.reduce(0, +)
            for k in 0 ..< count {
                let norm = Double(dimension) * pow(10, Double(c + k) / 2 - 0.3)
                parameters += VMFMixtureTestData.direction(dimension, using: &rng).map { Double($0) * norm }
                weights.append(log(raw[k] / total))
            }
        }
        return try VMFMixtureModel(classCount: 3, dimension: dimension, modeOffsets: [0, 1, 3, 6], modeParameters: parameters,
                                   modeLogWeights: weights, classKappa: [0.5, 2, 8].map { $0 * Double(dimension) })
    }

    static func randomRows(_ rows: Int, _ dimension: Int, seed: UInt64) -> Matrix {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 3)
        return Matrix(rows: rows, columns: dimension, storage: (0 ..< rows * dimension).map { _ in Float(StandardNormal.next(using: &rng) * 3) })
    }

    /// The formula evaluated row by row and mode by mode in plain Double loops with the exact normaliser, on the
    /// same unit rows (made exactly unit in Double, as the model does), with ‖θ + κx‖ formed directly. Tolerance 1e-9 relative: the Debye normaliser is within 1e-11 of the exact one at d ≥ 128
    /// (its own suite), the exact one within 1e-12 relative, and the dot products agree to ~1e-16·‖θ‖.
    @Test(arguments: [12, 128])
    func logDensitiesEqualTheFormulaRowByRow(dimension: Int) throws {
        let model = try Self.model(dimension: dimension)
        var rows = Self.randomRows(300, dimension, seed: 2)
        let got = try model.logDensities(rows, threads: 2)
        try RowNormalization.normalizeRows(&rows)
        let exact = VonMisesFisherNormalizer(dimension: dimension)
        var largest = 0.0
        for i in 0 ..< rows.rows {
            let wide = rows.row(i).map(Double.init)
            let length = wide.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let x = wide.map { $0 / length }
            for c in 0 ..< 3 {
                let kappa = model.classKappa[c]
                var terms: [Double] = []
                for k in model.modeOffsets[c] ..< model.modeOffsets[c + 1] {
                    let theta = Array(model.modeParameters[k * dimension ..< (k + 1) * dimension])
                    let after = zip(theta, x).map { $0 + kappa * $1 }
                    let norm = { (v: [Double]) in v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
                    terms.append(model.modeLogWeights[k] + exact.logNormalizer(kappa: kappa) + exact.logNormalizer(kappa: norm(theta))
                                 - exact.logNormalizer(kappa: norm(after)))
                }
                let top = terms.max()!
                let expected = top + log(terms.reduce(0) { $0 + exp($1 - top) })
                largest = max(largest, abs(got[i * 3 + c] - expected) / max(1, abs(expected)))
            }
        }
        #expect(largest <= 1e-9, "largest relative difference \(largest)")
    }

    @Test func anyPositiveRowScaleScoresTheSame() throws {
        let model = try Self.model(dimension: 128)
        let rows = Self.randomRows(40, 128, seed: 4)
        // Powers of two scale Float rows exactly, so the unit rows, and every score, must be the same bits; other
        // factors round (NormalisedScoringTests covers them with float64 files).
        for factor: Float in [16, 0x1p-10] {
            var scaled = rows
            for i in 0 ..< rows.rows { for j in 0 ..< 128 { scaled[i, j] = rows[i, j] * factor } }
            #expect(try model.logDensities(scaled) == model.logDensities(rows))
        }
    }

    /// 5,000 rows: two chunks of scored blocks (4,096 rows each at most), the last block partial.
    @Test func resultsDoNotDependOnTheThreadCount() throws {
        let model = try Self.model(dimension: 128)
        let rows = Self.randomRows(5_000, 128, seed: 5)
        let one = try model.logDensities(rows, threads: 1), two = try model.logDensities(rows, threads: 2)
        #expect(one.count == 5_000 * 3)
        #expect(one.withUnsafeBytes(Array.init) == two.withUnsafeBytes(Array.init))
        let top = try model.topK(rows, k: 2, adjustment: nil, threads: 2)
        #expect(top == (try model.topK(rows, k: 2, adjustment: nil, threads: 1)))
        var argmax: [Int32] = []
        for i in 0 ..< 5_000 {
            let row = Array(one[i * 3 ..< i * 3 + 3])
            argmax.append(Int32(row.firstIndex(of: row.max()!)!))
        }
        #expect(top.top1 == argmax)
        #expect(try model.predict(rows, adjustment: nil, threads: 2) == argmax)
    }

    @Test func logitsTopKAndPredictAgree() throws {
        let model = try Self.model(dimension: 128)
        let rows = Self.randomRows(200, 128, seed: 6)
        let adjustment = try LogitAdjustment(tau: 1, prior: [0.7, 0.2, 0.1])
        let densities = try model.logDensities(rows)
        let logits = try model.logits(rows, adjustment: adjustment)
        for i in 0 ..< 200 {
            for c in 0 ..< 3 { #expect(logits[i * 3 + c] == Float(densities[i * 3 + c] + log(adjustment.prior[c]) * -1)) }
        }
        #expect(try model.logits(rows, adjustment: nil) == densities.map(Float.init))
        let top = try model.topK(rows, k: 5, adjustment: adjustment)
        #expect(top.k == 3)
        #expect(top.top1 == (try model.predict(rows, adjustment: adjustment)))
        for i in 0 ..< 200 {
            let z = (0 ..< 3).map { Double(logits[i * 3 + $0]) }
            let m = z.max()!, total = z.reduce(0) { $0 + exp($1 - m) }
            for j in 0 ..< 3 {
                let c = Int(top.labels[i * 3 + j])
                #expect(abs(Double(top.probabilities[i * 3 + j]) - exp(z[c] - m) / total) < 1e-6)
                if j > 0 { #expect(top.probabilities[i * 3 + j] <= top.probabilities[i * 3 + j - 1]) }
            }
        }
        #expect(throws: TrainingError.invalidSetting(name: "top-k", value: "0", expected: "at least 1")) {
            try model.topK(rows, k: 0, adjustment: nil)
        }
        #expect(throws: TrainingError.self) { try model.logits(rows, adjustment: LogitAdjustment(tau: 1, prior: [0.5, 0.5])) }
    }

    @Test func badRowsNameTheRow() throws {
        let model = try Self.model(dimension: 12)
        var rows = Self.randomRows(600, 12, seed: 7)
        #expect(throws: TrainingError.dimensionMismatch(shard: "test.h5", expected: 12, found: 5)) {
            try model.logDensities(Matrix(rows: 2, columns: 5), source: "test.h5")
        }
        for j in 0 ..< 12 { rows[517, j] = 0 }
        rows[300, 4] = .nan
        // Both blocks have a bad row: the first in row order is reported, whichever thread finds it first.
        #expect(throws: TrainingError.nonFiniteValue(shard: "test.h5", row: 300, column: 4)) {
            try model.logDensities(rows, source: "test.h5", threads: 2)
        }
        rows[300, 4] = 1
        #expect(throws: TrainingError.zeroRow(shard: "test.h5", row: 517)) { try model.logDensities(rows, source: "test.h5") }
        // A bad row in a later chunk of blocks (rows 4096 on) is reported from predict as from logDensities.
        var long = Self.randomRows(4_500, 12, seed: 8)
        long[4_400, 0] = .infinity
        #expect(throws: TrainingError.nonFiniteValue(shard: "test.h5", row: 4_400, column: 0)) {
            try model.predict(long, adjustment: nil, source: "test.h5", threads: 2)
        }
        #expect(try model.logDensities(Matrix(rows: 0, columns: 12)).isEmpty)
    }

    @Test func inconsistentParametersAreRefused() throws {
        let good = try Self.model(dimension: 4)
        func make(offsets: [Int]? = nil, parameters: [Double]? = nil, weights: [Double]? = nil, kappa: [Double]? = nil) throws -> VMFMixtureModel {
            try VMFMixtureModel(classCount: 3, dimension: 4, modeOffsets: offsets ?? good.modeOffsets,
                                modeParameters: parameters ?? good.modeParameters, modeLogWeights: weights ?? good.modeLogWeights,
                                classKappa: kappa ?? good.classKappa)
        }
        #expect(try make() == good)
        for (name, build) in [
            ("offsets too short", { try make(offsets: [0, 1, 6]) }),
            ("class without modes", { try make(offsets: [0, 1, 1, 6]) }),
            ("parameters too short", { try make(parameters: Array(good.modeParameters.dropLast())) }),
            ("NaN parameter", { try make(parameters: good.modeParameters.enumerated().map { $0.offset == 9 ? .nan : $0.element }) }),
            ("weights not summing to 1", { try make(weights: good.modeLogWeights.map { $0 - 0.1 }) }),
            ("zero κ", { try make(kappa: [1, 0, 1]) }),
            ("infinite κ", { try make(kappa: [1, .infinity, 1]) }),
        ] as [(String, () throws -> VMFMixtureModel)] {
            do {
                _ = try build()
                Issue.record("\(name) was accepted")
            } catch {
                guard let error = error as? TrainingError, case .invalidMixtureModel = error else { Issue.record("\(name): \(error)"); continue }
            }
        }
    }
}
