import Foundation
import Logging
import Testing
import TailForgeEngine
@testable import TailForgeCluster

/// The values the loopback probe of issue 10 crashed daemons with, each refused with a message instead.
@Suite struct SubmitValueLimitTests {
    /// The six `submitJob` values, as a hostile client would write them into the wire JSON: (section, key,
    /// JSON literal).
    static let hostile: [(section: String, key: String, value: String)] = [
        ("policy", "target", "\"median*1e300\""),
        ("policy", "target", "\"\(Int.max)\""),
        ("policy", "target", "\"\(1 << 62)\""),
        ("input", "classes", "-1"),
        ("input", "classes", "1000000000000000"),
        ("sharding", "shard_timeout_seconds", "1e300"),
    ]

    /// The wire form of `manifest` with one value replaced.
    static func hostileManifestJSON(_ manifest: JobManifest, _ index: Int) throws -> Data {
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(manifest)) as? [String: Any])
        let (section, key, literal) = hostile[index]
        var inner = json[section] as? [String: Any] ?? [:]
        inner[key] = try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed)
        json[section] = inner
        return try JSONSerialization.data(withJSONObject: json)
    }

    @Test(arguments: 0..<hostile.count)
    func eachProbeValueIsRefusedByValidationNamingItsKey(index: Int) throws {
        let data = try Self.hostileManifestJSON(JobManifest(input: .init(path: "/data/in.h5"), output: "/data/out.h5"), index)
        let expectedKey = Self.hostile[index].section + "." + Self.hostile[index].key
        let manifest = try JSONDecoder().decode(JobManifest.self, from: data)
        do { try manifest.validate(source: "probe") } catch {
            // A policy string the decoder cannot read back is refused as `policy` with the key in the sentence.
            #expect(error.key == expectedKey || (error.key == "policy" && error.reason.contains(Self.hostile[index].key)), "\(error)")
            return
        }
        Issue.record("value \(index) was accepted: \(manifest)")
    }
}
