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

    @Test(arguments: ["", "0", "-5", "median*", "median*-1", "maximum"])
    func targetPolicyRejectsNonsense(text: String) {
        #expect(throws: BalanceSettingsError.self) { try TargetPolicy(parsing: text) }
    }

    @Test(arguments: [("local", KappaPolicy.local), ("class", .classwise), ("fixed:500", .fixed(500)), ("fixed:0.5", .fixed(0.5))])
    func kappaPolicyParsesAndRoundTrips(text: String, expected: KappaPolicy) throws {
        let parsed = try KappaPolicy(parsing: text)
        #expect(parsed == expected)
        #expect(try KappaPolicy(parsing: parsed.description) == parsed)
    }

    @Test(arguments: ["fixed:", "fixed:0", "fixed:-1", "fixed:inf", "global"])
    func kappaPolicyRejectsNonsense(text: String) {
        #expect(throws: BalanceSettingsError.self) { try KappaPolicy(parsing: text) }
    }

    @Test func settingsRoundTripThroughJSONAsStrings() throws {
        let s = BalanceSettings(target: .medianMultiple(2), kappa: .fixed(300), sampler: .smote, seed: 42, smoteNeighbours: 3)
        let data = try JSONEncoder().encode(s)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["target"] as? String == "median*2")
        #expect(object["kappa"] as? String == "fixed:300")
        #expect(try JSONDecoder().decode(BalanceSettings.self, from: data) == s)
    }

    @Test func targetResolvesAgainstClassSizes() {
        #expect(TargetPolicy.max.resolve(classSizes: [5, 50, 0, 20]) == 50)
        #expect(TargetPolicy.count(30).resolve(classSizes: [5, 50]) == 30)
        // Median over non-empty classes: [5, 20, 50] → 20.
        #expect(TargetPolicy.medianMultiple(1.5).resolve(classSizes: [5, 50, 0, 20]) == 30)
    }
}
