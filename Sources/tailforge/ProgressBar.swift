import Foundation
import Synchronization

/// The one progress style of `balance`, `submit --wait`, `wait` and `replay`, on stderr. On a terminal: a bar
/// redrawn in place at most ten times a second. Otherwise (a log file, a pipe): plain lines, one when the stage
/// changes and one per tenth of the stage done, never a carriage return.
final class ProgressBar: Sendable {
    private struct State { var label = ""; var lastDraw = Date.distantPast; var lastTenth = -1; var open = false; var finished = false }
    private let state = Mutex(State())
    private let isTerminal: Bool

    init(isTerminal: Bool = isatty(STDERR_FILENO) == 1) { self.isTerminal = isTerminal }

    func update(_ label: String, done: Int, total: Int, detail: String = "") {
        let fraction = total > 0 ? min(1, max(0, Double(done) / Double(total))) : 1
        let tenth = Int(fraction * 10)
        let line: String? = state.withLock { s in
            let now = Date()
            let newStage = s.label != label
            let finished = done >= total
            // Reports come from worker threads and may arrive out of order: nothing redraws a finished stage.
            if !newStage, s.finished { return nil }
            if isTerminal {
                if !newStage, !finished, now.timeIntervalSince(s.lastDraw) < 0.1 { return nil }
            } else if !newStage, !finished, tenth <= s.lastTenth {
                return nil
            }
            let closePrevious = isTerminal && newStage && s.open ? "\n" : ""
            s.label = label; s.lastDraw = now; s.lastTenth = tenth; s.finished = finished
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            // `%-18@` does not pad on Linux's Foundation; pad by hand so the bars line up.
            let padded = label.count < 16 ? label + String(repeating: " ", count: 16 - label.count) : label
            let text = padded + String(format: " [%@] %5.1f%% %d/%d ", bar, fraction * 100, done, total) + detail
            guard isTerminal else { return text + "\n" }
            s.open = !finished
            return closePrevious + "\r" + text + "\u{1B}[K" + (finished ? "\n" : "")
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// Ends a bar left open (a job that stopped mid-stage) so the next message starts on its own line.
    func close() {
        let open = state.withLock { s in defer { s.open = false }; return s.open }
        if open { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// A message on its own line, closing an open bar first.
    func say(_ message: String) {
        close()
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
