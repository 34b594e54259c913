import Foundation
import TailForgeCluster
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a benchmark's coordinator says it moved: its `tailforge_bytes_moved_total` series, scraped from its
/// `--metrics-bind` listener, so the "bytes moved" columns are measured rather than derived from the layout.
/// κ vectors travel inside job messages, which no series counts; the benchmarks add those by rule and say so.
struct CoordinatorTraffic {
    /// Bytes by `direction/what` (`received/shard`, `sent/input`, `relayed/gradient`).
    let bytes: [String: Double]

    /// The arguments that make a coordinator serve `/metrics` on a free loopback port.
    static let coordinatorArguments = ["--metrics-bind", "127.0.0.1:0"]

    /// Scrapes the coordinator whose state directory is `stateDirectory` (it writes its metrics URL there).
    static func scrape(stateDirectory: String) async throws -> CoordinatorTraffic {
        let file = HTTPListener.endpointFile(directory: stateDirectory, flag: "--metrics-bind")
        var base: String?
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), text.hasSuffix("\n") {
                base = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let base, let url = URL(string: base + "/metrics") else {
            throw BenchmarkError.usage("the coordinator wrote no metrics endpoint to \(file)")
        }
        let (data, _) = try await URLSession.shared.data(from: url)
        return CoordinatorTraffic(bytes: parse(String(decoding: data, as: UTF8.self)))
    }

    /// The `tailforge_bytes_moved_total{direction="…",what="…"} VALUE` samples of a Prometheus text page.
    static func parse(_ page: String) -> [String: Double] {
        var bytes: [String: Double] = [:]
        for line in page.split(separator: "\n") where line.hasPrefix("tailforge_bytes_moved_total{") {
            guard let close = line.lastIndex(of: "}"), let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)) else { continue }
            var labels: [String: String] = [:]
            for pair in line[line.index(after: line.firstIndex(of: "{")!)..<close].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            }
            if let direction = labels["direction"], let what = labels["what"] { bytes["\(direction)/\(what)", default: 0] += value }
        }
        return bytes
    }

    subscript(_ key: String) -> Int64 { Int64(bytes[key] ?? 0) }
}
