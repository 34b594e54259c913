/// The secret every request to the status page must carry when it is served beyond loopback
/// (`--http-token-file`): `Authorization: Bearer TOKEN`, or `?token=TOKEN` for a browser's first visit.
public struct HTTPToken: Sendable, Equatable {
    let value: String

    public static let minimumLength = 16
    /// One less than the key-file reader reads: a word that fills its whole read may have been cut short, and the
    /// shortened token would then refuse every request.
    public static let maximumLength = CurveKey.readLimit - 1

    init(value: String) { self.value = value }

    /// Reads the token file: owner-only (like a secret key), one word of ``minimumLength`` to ``maximumLength`` characters.
    public static func load(file path: String) throws(HTTPTokenError) -> HTTPToken {
        let words: [String]
        do {
            try CurveKey.checkOwnerOnly(path, holding: "the token")
            words = try CurveKey.readTokens(path)
        } catch .tooOpen(_, let mode) {
            throw HTTPTokenError(path: path, reason: "mode \(String(mode & 0o777, radix: 8)) lets others read or write it; run `chmod 600 \(path)` (and make a new token if others could read it)")
        } catch .io(_, let reason) {
            throw HTTPTokenError(path: path, reason: reason)
        } catch {
            throw HTTPTokenError(path: path, reason: "\(error)")
        }
        guard words.count == 1, let word = words.first, (minimumLength...maximumLength).contains(word.count),
              word.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw HTTPTokenError(path: path, reason: "a token file holds one word of \(minimumLength) to \(maximumLength) ASCII characters; make one with `openssl rand -hex 32 > \(path) && chmod 600 \(path)`")
        }
        return HTTPToken(value: word)
    }

    /// Compares in time independent of where the strings differ.
    public func matches(_ candidate: String) -> Bool {
        let a = Array(value.utf8), b = Array(candidate.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<a.count { difference |= a[index] ^ (index < b.count ? b[index] : 0) }
        return difference == 0
    }
}

/// A `--http-token-file` that cannot be used.
public struct HTTPTokenError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public var description: String { "HTTP token file \(path): \(reason)" }
}
