import Foundation
import Logging

/// How a daemon writes its log lines on stderr: `text` for people (`2026-… info tailforge.worker: job=… shard=…
/// [TailForgeCluster] message`), `json` for log collectors (one object per line, metadata as top-level keys).
public enum LogFormat: String, CaseIterable, Sendable {
    case text
    case json

    /// A log handler factory for this format, writing to stderr.
    public func handler(label: String) -> any LogHandler {
        switch self {
        case .text: StreamLogHandler.standardError(label: label)
        case .json: JSONLogHandler(label: label)
        }
    }
}
