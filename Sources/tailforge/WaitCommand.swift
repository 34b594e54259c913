import ArgumentParser
import Foundation
import TailForgeCluster

/// `tailforge wait`: re-attaches to a job and follows it to the end, riding out a coordinator restart.
struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Follow a job until it is committed, failed or cancelled; exit non-zero unless it commits."
    )

    @Argument(help: "The job id (printed by `tailforge submit`, listed by `tailforge status`).")
    var job: String

    @OptionGroup var connection: CoordinatorOptions

    @Option(help: "Seconds to keep trying while the coordinator does not answer (a restart), before giving up.")
    var timeout: Double = 120

    @Flag(help: "Print the final job status as one JSON line on stdout.")
    var json = false

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        let final = try Self.follow(job: job, coordinator: connection.coordinator, timeout: timeout, security: try connection.keys.security())
        try Self.report(final, json: json)
    }

    /// Follows `job` with the common progress bar; Ctrl-C detaches with instructions.
    static func follow(job: String, coordinator: String, timeout: Double, security: SocketSecurity) throws -> JobStatus {
        InterruptNotice.install(job: job, coordinator: coordinator)
        let bar = JobProgressBar()
        do {
            let final = try ClusterClient.follow(job: job, coordinator: coordinator, timeoutSeconds: timeout, security: security, update: { bar.show($0) },
                                                 reconnecting: { silent in
                                                     if silent >= 2 { bar.bar.say(String(format: "coordinator silent for %.0f s; reconnecting (up to --timeout %.0f s)", silent, timeout)) }
                                                 })
            bar.finish(final)
            return final
        } catch {
            bar.bar.close()
            if case .noReply = error {
                throw CommandFailure("\(error) Job \(job) may still be running; `tailforge wait \(job) --coordinator \(coordinator)` re-attaches.")
            }
            throw CommandFailure("\(error)")
        }
    }

    /// The final line on stdout (or JSON); non-zero exit unless the job committed. Unverified spot checks,
    /// excluded workers and machines of mixed OpenBLAS kernel families are said on stderr first, so the final line
    /// stays the last on stdout.
    static func report(_ final: JobStatus, json: Bool) throws {
        if let verification = final.verification, verification.needsAttention {
            FileHandle.standardError.write(Data("\(verification)\n".utf8))
        }
        if let warning = final.kernelWarning {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        if json {
            try JSONOutput.line(final)
        } else {
            let took = JobProgressBar.seconds(final.elapsedSeconds)
            switch (final.state, final.training) {
            case (.committed, let training?):
                print("job \(final.job) committed: model \(final.output) (trained on \(final.totalRows) balanced rows in \(training.parts) part(s): "
                      + "\(training.iteration) iterations, loss \(training.loss.map { String(format: "%.6f", $0) } ?? "n/a"), \(took))"
                      + (training.calibration.map { "; \($0)" } ?? "") + (training.trainerHistory.map { "; \($0)" } ?? ""))
            case (.committed, nil): print("job \(final.job) committed: \(final.output) (\(final.totalRows) rows, \(took))")
            default: print("job \(final.job) \(final.state.rawValue) after \(took)\(final.error.map { ": \($0)" } ?? "")")
            }
        }
        if final.state != .committed { throw ExitCode.failure }
    }
}

/// A failure the CLI reports as one sentence (no type name).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
