import Foundation

/// Size limits applied to every incoming message before it is decoded.
public struct WireLimits: Sendable, Equatable, Codable {
    /// The whole multipart message (all frames).
    public var maxMessageBytes: Int = WireLimits.defaultMaxMessageBytes
    public static let defaultMaxMessageBytes = 256 << 20
    /// The smallest `--max-message-bytes` a daemon accepts: a 4 MiB data chunk and its header must fit.
    public static let minimumMaxMessageBytes = 8 << 20
    /// The JSON header frame.
    public var maxHeaderBytes: Int = 4 << 20
    /// Binary payload frames per message.
    public var maxPayloadFrames: Int = 16
    public init() {}
    public init(maxMessageBytes: Int) { self.maxMessageBytes = maxMessageBytes }
}

/// One protocol message: a typed body plus raw binary payload frames.
///
/// On the wire (cluster/PROTOCOL.md): frame 0 `"TFRG"` + big-endian UInt16 version, frame 1 big-endian UInt16
/// message type, frame 2 JSON `{"body": …, "payloads": [{"bytes": n, "crc32c": c}, …]}`, then the payloads.
public struct WireMessage: Sendable {
    /// The version this build speaks.
    public static let protocolVersion: UInt16 = 1
    static let magic: [UInt8] = Array("TFRG".utf8)

    public let body: any WireBody
    public let payloads: [[UInt8]]

    public init(_ body: any WireBody, payloads: [[UInt8]] = []) {
        self.body = body
        self.payloads = payloads
    }

    /// The message's type.
    public var type: MessageType { Swift.type(of: body).messageType }

    /// The body as a concrete type, or nil for another type.
    public func body<B: WireBody>(as _: B.Type) -> B? { body as? B }

    // MARK: Encoding

    private struct PayloadDescriptor: Codable, Equatable {
        var bytes: Int
        var crc32c: UInt32
    }

    private struct Header<B: WireBody>: Codable {
        var body: B
        var payloads: [PayloadDescriptor]
    }

    private struct PayloadsOnly: Decodable {
        var payloads: [PayloadDescriptor]
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// The frames to send (prefix a ROUTER's peer identity yourself).
    public func encode() -> [[UInt8]] {
        let version = Self.protocolVersion
        let type = self.type.rawValue
        let headerFrame = body.encodedHeader(payloads: payloads)
        return [Self.magic + [UInt8(version >> 8), UInt8(version & 0xFF)],
                [UInt8(type >> 8), UInt8(type & 0xFF)],
                headerFrame] + payloads
    }

    fileprivate static func header<B: WireBody>(_ body: B, payloads: [[UInt8]]) -> [UInt8] {
        let descriptors = payloads.map { PayloadDescriptor(bytes: $0.count, crc32c: CRC32C.checksum($0)) }
        // Encoding plain Codable structs of strings and numbers cannot fail.
        return Array(try! encoder().encode(Header(body: body, payloads: descriptors)))
    }

    fileprivate static func decodeBody<B: WireBody>(_: B.Type, type: MessageType, from data: Data) throws(ProtocolError) -> B {
        do {
            return try JSONDecoder().decode(Header<B>.self, from: data).body
        } catch {
            throw .malformedHeader(type: "\(type)", detail: describe(error))
        }
    }

    // MARK: Decoding

    /// Validates and decodes a received message (without any ROUTER identity frame).
    /// Never traps: every defect is a `ProtocolError`.
    public static func decode(_ frames: some Collection<[UInt8]>, limits: WireLimits = WireLimits()) throws(ProtocolError) -> WireMessage {
        let frames = Array(frames)
        let total = frames.reduce(0) { $0 + $1.count }
        if total > limits.maxMessageBytes {
            throw .oversized(bytes: total, limit: limits.maxMessageBytes, part: "message")
        }
        guard frames.count >= 3 else { throw .truncated(frameCount: frames.count) }
        let versionFrame = frames[0]
        guard versionFrame.count == 6, Array(versionFrame.prefix(4)) == magic else { throw .badMagic }
        let version = UInt16(versionFrame[4]) << 8 | UInt16(versionFrame[5])
        guard version == protocolVersion else {
            throw .unsupportedVersion(received: version, supported: protocolVersion)
        }
        let typeFrame = frames[1]
        guard typeFrame.count == 2 else { throw .unknownMessageType(code: typeFrame.count == 1 ? Int(typeFrame[0]) : -1) }
        let code = UInt16(typeFrame[0]) << 8 | UInt16(typeFrame[1])
        guard let type = MessageType(rawValue: code) else { throw .unknownMessageType(code: Int(code)) }
        let headerBytes = frames[2]
        if headerBytes.count > limits.maxHeaderBytes {
            throw .oversized(bytes: headerBytes.count, limit: limits.maxHeaderBytes, part: "header")
        }
        let payloads = Array(frames.dropFirst(3))
        if payloads.count > limits.maxPayloadFrames {
            throw .oversized(bytes: payloads.count, limit: limits.maxPayloadFrames, part: "payload frame count")
        }
        let data = Data(headerBytes)
        let descriptors: [PayloadDescriptor]
        do {
            descriptors = try JSONDecoder().decode(PayloadsOnly.self, from: data).payloads
        } catch {
            throw .malformedHeader(type: "\(type)", detail: describe(error))
        }
        // The whole header is validated before any payload byte is looked at.
        let body = try type.bodyType.decodedFromHeader(data, type: type)
        guard descriptors.count == payloads.count else {
            throw .payloadCountMismatch(announced: descriptors.count, received: payloads.count)
        }
        for (index, (descriptor, payload)) in zip(descriptors, payloads).enumerated() {
            guard descriptor.bytes == payload.count else {
                throw .payloadSizeMismatch(index: index, announced: descriptor.bytes, received: payload.count)
            }
            guard descriptor.crc32c == CRC32C.checksum(payload) else { throw .checksumMismatch(index: index) }
        }
        return WireMessage(body, payloads: payloads)
    }

    /// A one-line account of a JSON decoding error (which key, what was wrong).
    fileprivate static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key \"\(key.stringValue)\" at \(path(context).isEmpty ? "top level" : path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(context.debugDescription) at \(path(context))"
        case .dataCorrupted(let context): return "not valid JSON (\(context.underlyingError.map { "\($0)" } ?? context.debugDescription))"
        @unknown default: return "\(error)"
        }
    }
}

// MARK: - Binary payload helpers

extension WireMessage {
    /// Little-endian bytes of a float32 array (the wire format of κ and weights payloads).
    public static func float32Payload(_ values: [Float]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Decodes a float32 payload; nil when its length is not a multiple of 4.
    public static func float32Values(_ bytes: [UInt8]) -> [Float]? {
        guard bytes.count % 4 == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: 4).map { index in
            Float(bitPattern: UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8
                | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24)
        }
    }
}

// Protocol-extension trampolines: they open the existential body (or body type) for the generic coders.
extension WireBody {
    fileprivate func encodedHeader(payloads: [[UInt8]]) -> [UInt8] {
        WireMessage.header(self, payloads: payloads)
    }

    fileprivate static func decodedFromHeader(_ data: Data, type: MessageType) throws(ProtocolError) -> any WireBody {
        try WireMessage.decodeBody(Self.self, type: type, from: data)
    }
}
