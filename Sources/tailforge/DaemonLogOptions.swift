import ArgumentParser
import Logging
import TailForgeCluster

/// `--log-format` and `--log-level`: how a daemon's log lines look and how many there are.
struct DaemonLogOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "Log lines on stderr as text (for people) or json (one object per line, ids as keys).")
    var format: LogFormat = .text

    @Option(name: .customLong("log-level"), help: "The least severe level logged: trace, debug, info, notice, warning, error or critical.")
    var level: Logger.Level = .info

    func logger(label: String) -> Logger {
        DaemonService.logger(label: label, format: format, level: level)
    }
}

extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
