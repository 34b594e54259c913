import TailForgeStorage

/// SHA-256 of files and payloads the cluster moves around (inputs, κ payloads, shards), from the storage layer.
enum FileDigest {
    static func sha256(ofFileAt path: String) throws -> String {
        try SHA256.hexDigest(ofFileAt: path)
    }

    static func sha256(of bytes: [UInt8]) -> String {
        SHA256.hexDigest(of: bytes)
    }
}
