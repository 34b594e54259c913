import Foundation
import TailForgeCluster
import TailForgeStorage
import TailForgeTraining

/// A decoder fed arbitrary bytes. Each run must end in a value or a thrown error, never a trap; a few targets
/// also check a property of what they accept (it re-encodes to itself), reported as a `FuzzFinding`.
/// `tailforge-fuzz TARGET` runs one under libFuzzer; the test suite replays the corpus and every past crash.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `WireMessage.decode` of a whole multipart message (`FuzzFrames` form), under the default and tight limits.
    case frame
    /// Every message body decoder: a valid envelope around a fuzzed JSON header; the first 2 bytes pick the type.
    case body
    /// `ManifestLoader.parse` of manifest text (YAML or JSON), then the accepted manifest over the wire's JSON.
    case manifest
    /// The resolved-manifest reader (`ResolvedManifest.decode`), its checks and its signature verification.
    case resolvedManifest = "resolved-manifest"
    /// The binary gradient payload decoder (`LossAndGradient(serialized:)`) and the float32 payload decoder.
    case gradientPayload = "gradient-payload"

    /// Tight limits, so small inputs reach the size checks too.
    static let tightLimits: WireLimits = {
        var limits = WireLimits()
        limits.maxMessageBytes = 2048
        limits.maxHeaderBytes = 1024
        limits.maxPayloadFrames = 2
        return limits
    }()

    /// A fixed signing key whose public half verifies resolved manifests: the fuzzer can reach the
    /// signature code, not forge a signature.
    static let signingKey = SigningKeyPair(seed: [UInt8](repeating: 7, count: 32))!

    /// Runs the target on one input; nil when every property held (a thrown decoding error is a pass).
    public func run(_ input: [UInt8]) -> FuzzFinding? {
        do {
            switch self {
            case .frame:
                let frames = FuzzFrames.split(input)
                for limits in [WireLimits(), Self.tightLimits] {
                    guard let message = try? WireMessage.decode(frames, limits: limits) else { continue }
                    try Self.checkRoundTrip(message)
                }
            case .body:
                if let message = try? WireMessage.decode(FuzzFrames.bodyFrames(input)) { try Self.checkRoundTrip(message) }
            case .manifest:
                try Self.checkManifest(String(decoding: input, as: UTF8.self))
            case .resolvedManifest:
                guard let resolved = try? ResolvedManifest.decode(Data(input)) else { return nil }
                _ = try? resolved.verify(source: "fuzz.manifest.json", toolVersion: ToolVersion.current)
                _ = try? resolved.verifySignature(publicKey: Self.signingKey.publicKey, source: "fuzz.manifest.json")
            case .gradientPayload:
                _ = WireMessage.float32Values(input)
                if let decoded = LossAndGradient(serialized: input), decoded.serialized() != input {
                    throw FuzzFinding("a decoded gradient payload re-serialises to different bytes")
                }
            }
        } catch let finding as FuzzFinding {
            return finding
        } catch {
            return FuzzFinding("unexpected error \(error)")
        }
        return nil
    }

    /// What decodes must re-encode to bytes that decode to the same frames: a relaying coordinator re-encodes.
    static func checkRoundTrip(_ message: WireMessage) throws {
        let frames = message.encode()
        let again: WireMessage
        do { again = try WireMessage.decode(frames) } catch {
            throw FuzzFinding("a decoded \(message.type) does not decode after re-encoding: \(error)")
        }
        guard again.encode() == frames else { throw FuzzFinding("a decoded \(message.type) re-encodes differently the second time") }
    }

    /// A manifest the loader accepts must survive the wire (submit, journal) and pass validation there.
    static func checkManifest(_ text: String) throws {
        guard let manifest = try? ManifestLoader.parse(text, source: "fuzz.yaml", baseDirectory: "/fuzz") else { return }
        let back: JobManifest
        do { back = try JSONDecoder().decode(JobManifest.self, from: JSONEncoder().encode(manifest)) } catch {
            throw FuzzFinding("an accepted manifest does not survive JSON: \(error)")
        }
        guard back == manifest else { throw FuzzFinding("an accepted manifest changes over JSON: \(manifest) → \(back)") }
        do { try back.validate(source: "fuzz") } catch {
            throw FuzzFinding("an accepted manifest fails validation after JSON: \(error)")
        }
    }
}

/// A property a fuzz target checks did not hold (decoding crashes are caught by the fuzzer itself).
public struct FuzzFinding: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
