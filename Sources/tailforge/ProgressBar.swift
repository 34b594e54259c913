import Foundation
import Synchronization

/// A one-line progress bar on stderr, redrawn at most ten times a second; silent when stderr is not a terminal
/// except for one line per stage, so logs stay readable.
final class ProgressBar: Sendable {
    private struct State { var label = ""; var lastDraw = Date.distantPast; var lastFraction = -1.0 }
    private let state = Mutex(State())
    private let isTerminal = isatty(STDERR_FILENO) == 1

    func update(_ label: String, done: Int, total: Int, detail: String = "") {
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let line: String? = state.withLock { s in
            let now = Date()
            let newStage = s.label != label
            if !newStage, done < total, now.timeIntervalSince(s.lastDraw) < 0.1 { return nil }
            if !isTerminal, !newStage, done < total { return nil }
            s.label = label; s.lastDraw = now; s.lastFraction = fraction
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let text = String(format: "%-18@ [%@] %5.1f%% %d/%d %@", label as NSString, bar, fraction * 100, done, total, detail)
            return isTerminal ? "\r" + text + (done >= total ? "\n" : "") : text + "\n"
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }
}
