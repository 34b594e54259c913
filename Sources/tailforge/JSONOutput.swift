import Foundation

/// `--json` output: one compact JSON object per line on stdout, flushed at once, so a script reading a pipe
/// sees each line as it is written.
enum JSONOutput {
    static func line(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
        fflush(nil)  // all streams: `stdout` is not concurrency-safe to name
    }
}
