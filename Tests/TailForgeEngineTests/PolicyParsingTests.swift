import Foundation
import Testing
@testable import TailForgeEngine

@Suite struct PolicyParsingTests {
    @Test(arguments: [("max", TargetPolicy.max), ("1000", .count(1000)), ("median*2", .medianMultiple(2)), ("median*1.5", .medianMultiple(1.5))])
    func targetPolicyParsesAndRoundTrips(text: String, expected: TargetPolicy) throws {
        let parsed = try TargetPolicy(parsing: text)
        #expect(parsed == expected)
        #expect(try TargetPolicy(parsing: parsed.description) == parsed)
    }

    @Test(arguments: ["", "0", "-5", "median*", "median*-1", "maximum", "1e300", "99999999999999999999", "2147483648",
                      "median*1e300", "median*nan", "median*inf", "median*0", "median*word", "fixed:5"])
    func targetPolicyRejectsNonsense(text: String) {
        #expect(throws: BalanceSettingsError.self) { try TargetPolicy(parsing: text) }
    }

    @Test(arguments: [("local", KappaPolicy.local), ("class", .classwise), ("loo", .leaveOneOut), ("fixed:500", .fixed(500)), ("fixed:0.5", .fixed(0.5))])
    func kappaPolicyParsesAndRoundTrips(text: String, expected: KappaPolicy) throws {
        let parsed = try KappaPolicy(parsing: text)
        #expect(parsed == expected)
        #expect(try KappaPolicy(parsing: parsed.description) == parsed)
    }

    @Test(arguments: ["fixed:", "fixed:0", "fixed:-1", "fixed:inf", "global", "fixed:1e300", "fixed:nan", "fixed:1e11", "fixed:1e-4", "fixed:word"])
    func kappaPolicyRejectsNonsense(text: String) {
        #expect(throws: BalanceSettingsError.self) { try KappaPolicy(parsing: text) }
    }

    /// A typo'd word names the word it misspells; the error still lists every choice.
    @Test func aMisspeltPolicyWordSuggestsTheWordItMisspells() {
        #expect(throws: BalanceSettingsError.invalid(setting: "kappa", value: "lo",
                                                     expected: "`local`, `class`, `loo`, or `fixed:VALUE` such as `fixed:500` (did you mean `loo`?)")) {
            try KappaPolicy(parsing: "lo")
        }
        #expect(throws: BalanceSettingsError.invalid(setting: "sampler", value: "gausian",
                                                     expected: "one of vmf, gaussian, smote, none (did you mean `gaussian`?)")) {
            try SamplerKind(parsing: "gausian")
        }
        #expect(throws: BalanceSettingsError.invalid(setting: "target", value: "mx",
                                                     expected: "`max`, a positive row count such as `1000`, or `median*F` such as `median*2` (did you mean `max`?)")) {
            try TargetPolicy(parsing: "mx")
        }
    }

    @Test func settingsRoundTripThroughJSONAsStrings() throws {
        let s = BalanceSettings(target: .medianMultiple(2), kappa: .fixed(300), sampler: .smote, seed: 42, smoteNeighbours: 3)
        let data = try JSONEncoder().encode(s)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["target"] as? String == "median*2")
        #expect(object["kappa"] as? String == "fixed:300")
        #expect(try JSONDecoder().decode(BalanceSettings.self, from: data) == s)
    }

    @Test func targetResolvesAgainstClassSizes() throws {
        #expect(try TargetPolicy.max.resolve(classSizes: [5, 50, 0, 20]) == 50)
        #expect(try TargetPolicy.count(30).resolve(classSizes: [5, 50]) == 30)
        // Median over non-empty classes: [5, 20, 50] → 20.
        #expect(try TargetPolicy.medianMultiple(1.5).resolve(classSizes: [5, 50, 0, 20]) == 30)
    }

    @Test func rejectionsSayWhatIsAllowed() {
        do {
            _ = try TargetPolicy(parsing: "median*1e300")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("--target"))
            #expect(error.description.contains("at most 2147483647"))
        }
        do {
            _ = try KappaPolicy(parsing: "fixed:1e300")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "invalid --kappa 'fixed:1e300': expected `fixed:VALUE` with VALUE a number from 0.001 to 10000000000, such as `fixed:500`")
        }
    }

    /// A multiple that parses but comes to more rows than a class may have once the median is known is an
    /// error at planning time, not an integer-conversion trap.
    @Test func aMedianMultipleTooLargeForTheClassSizesIsRefusedWhenPlanning() {
        let settings = BalanceSettings(target: .medianMultiple(1e9))
        #expect(throws: BalanceSettingsError.self) { try BalancePlan(classSizes: [5000, 10, 3], settings: settings) }
        #expect(throws: BalanceSettingsError.self) { try BalancePlan(classSizes: [5], settings: BalanceSettings(target: .medianMultiple(.infinity))) }
        #expect(throws: BalanceSettingsError.self) { try BalancePlan(classSizes: [5], settings: BalanceSettings(target: .count(0))) }
    }

    @Test func theLargestTargetPlansWithoutOverflow() throws {
        let plan = try BalancePlan(classSizes: [1, 2, 3], settings: BalanceSettings(target: .count(TargetPolicy.maximumRowsPerClass)))
        #expect(plan.totalRows == 3 * TargetPolicy.maximumRowsPerClass)
    }

    @Test(arguments: [
        BalanceSettings(kappaMin: 0), BalanceSettings(kappaMin: -1), BalanceSettings(kappaMin: .nan), BalanceSettings(kappaMin: 1e300),
        BalanceSettings(kappaMax: 1e300), BalanceSettings(kappaMax: .infinity), BalanceSettings(kappaMax: .nan), BalanceSettings(kappaMax: 0.5),
        BalanceSettings(smoteNeighbours: 0), BalanceSettings(smoteNeighbours: -3), BalanceSettings(smoteNeighbours: Int.max),
        BalanceSettings(kappa: .fixed(1e300), kappaMax: 1e300), BalanceSettings(kappa: .fixed(5e6)),
        BalanceSettings(target: .medianMultiple(.nan)), BalanceSettings(target: .count(-1)),
    ])
    func settingsOutOfRangeAreRefused(settings: BalanceSettings) {
        #expect(throws: BalanceSettingsError.self) { try settings.validate() }
    }

    /// Manifests decode settings through the same parsers, so a manifest cannot smuggle in what a flag refuses.
    @Test func decodingUsesTheSameParsers() {
        let json = #"{"target": "median*1e300", "kappa": "local"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(BalanceSettings.self, from: Data(json.utf8)) }
    }
}
