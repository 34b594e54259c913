/// Why an incoming message was rejected. Every variant is answered with an `ErrorReply` carrying `code`
/// and `description`, and logged; none of them stops the receiver.
public enum ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer than the three envelope frames (magic+version, type, header).
    case truncated(frameCount: Int)
    /// The first frame is not `TFRG` followed by a two-byte version.
    case badMagic
    /// The peer speaks another protocol version.
    case unsupportedVersion(received: UInt16, supported: UInt16)
    /// The type frame is not two bytes or names no known message type.
    case unknownMessageType(code: Int)
    /// The header frame is not JSON of the shape the message type requires.
    case malformedHeader(type: String, detail: String)
    /// The header announces a different number of payload frames than arrived.
    case payloadCountMismatch(announced: Int, received: Int)
    /// A payload frame's length differs from the header's.
    case payloadSizeMismatch(index: Int, announced: Int, received: Int)
    /// A payload frame's CRC-32C differs from the header's.
    case checksumMismatch(index: Int)
    /// The whole message or a part of it exceeds the configured limit.
    case oversized(bytes: Int, limit: Int, part: String)
    /// A message arrived that is valid but not expected here (for example a client message on a worker).
    case unexpectedMessage(type: String, context: String)

    /// A stable machine-readable code for `ErrorReply.code`.
    public var code: String {
        switch self {
        case .truncated: "truncated"
        case .badMagic: "bad-magic"
        case .unsupportedVersion: "unsupported-version"
        case .unknownMessageType: "unknown-type"
        case .malformedHeader: "malformed-header"
        case .payloadCountMismatch: "payload-count"
        case .payloadSizeMismatch: "payload-size"
        case .checksumMismatch: "checksum"
        case .oversized: "oversized"
        case .unexpectedMessage: "unexpected-message"
        }
    }

    public var description: String {
        switch self {
        case .truncated(let count):
            "message truncated: \(count) frame(s), a TailForge message has at least 3 (magic+version, type, header)"
        case .badMagic:
            "not a TailForge message: the first frame must be \"TFRG\" and a 2-byte protocol version"
        case .unsupportedVersion(let received, let supported):
            "protocol version \(received) is not supported (this side speaks \(supported)); run the same TailForge release on every node"
        case .unknownMessageType(let code):
            "unknown message type \(code)"
        case .malformedHeader(let type, let detail):
            "malformed JSON header for \(type): \(detail)"
        case .payloadCountMismatch(let announced, let received):
            "header announces \(announced) payload frame(s) but \(received) arrived"
        case .payloadSizeMismatch(let index, let announced, let received):
            "payload frame \(index) is \(received) bytes, the header announces \(announced)"
        case .checksumMismatch(let index):
            "payload frame \(index) fails its CRC-32C check (corrupted in transit)"
        case .oversized(let bytes, let limit, let part):
            "\(part) of \(bytes) bytes exceeds the limit of \(limit) bytes"
        case .unexpectedMessage(let type, let context):
            "message \(type) is not expected \(context)"
        }
    }
}
