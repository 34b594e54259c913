import TailForgeCluster

/// How one flat fuzz input stands for a multipart ZeroMQ message, so a byte-level fuzzer can add, drop, grow and
/// shrink frames: each frame is a 2-byte big-endian length and that many bytes; a length running past the end
/// takes what is left (a truncated frame), and bytes after the last frame are ignored.
public enum FuzzFrames {
    /// The frames a fuzz input stands for.
    public static func split(_ input: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var index = 0
        while index + 2 <= input.count {
            let length = Int(input[index]) << 8 | Int(input[index + 1])
            let start = index + 2
            let end = min(input.count, start + length)
            frames.append(Array(input[start..<end]))
            index = end
        }
        return frames
    }

    /// The fuzz input of a message's frames (each at most 65,535 bytes; longer ones are cut, as seeds never are).
    public static func join(_ frames: [[UInt8]]) -> [UInt8] {
        var input: [UInt8] = []
        for frame in frames {
            let count = min(frame.count, 0xFFFF)
            input += [UInt8(count >> 8), UInt8(count & 0xFF)] + frame.prefix(count)
        }
        return input
    }

    /// The body target's input form: the message type (2 bytes big-endian) then the JSON header.
    public static func bodyInput(type: MessageType, header: [UInt8]) -> [UInt8] {
        [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF)] + header
    }

    /// The frames of a body-target input: a valid envelope around the header, with the type taken modulo the
    /// known types so nearly every input reaches a body decoder.
    public static func bodyFrames(_ input: [UInt8]) -> [[UInt8]] {
        let code = input.count >= 2 ? Int(input[0]) << 8 | Int(input[1]) : 0
        let types = MessageType.allCases
        let type = types.first { Int($0.rawValue) == code } ?? types[code % types.count]
        let version = WireMessage.protocolVersion
        return [Array("TFRG".utf8) + [UInt8(version >> 8), UInt8(version & 0xFF)],
                [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF)],
                Array(input.dropFirst(2))]
    }
}
