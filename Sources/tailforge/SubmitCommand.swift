import ArgumentParser
import Foundation
import TailForgeCluster
import TailForgeEngine

/// `tailforge submit`: sends a job to the coordinator, optionally following it to the end.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a balancing job (a manifest file, or an input file with --output) to a cluster coordinator."
    )

    @Argument(help: "A job manifest (.yaml/.json) or an input HDF5 file for an ad-hoc job.")
    var source: String

    @OptionGroup var connection: CoordinatorOptions

    @Option(help: "Output file of an ad-hoc job.")
    var output: String?

    @OptionGroup var policy: BalanceOptions
    @OptionGroup var datasets: InputDatasetOptions

    @Option(help: "Number of shards (default: four per registered worker).")
    var shards: Int?

    @Flag(help: "Stream the input to workers instead of letting them read it from a shared path.")
    var streamInput = false

    @Option(help: "none, or spot: the coordinator recomputes a sample of the shards (its --verify-fraction) on other workers and compares them (the manifest's `verify`; default: the manifest's, else none).")
    var verify: VerifyMode?

    @Flag(help: "Replace an existing output and its resolved manifest (the manifest's `overwrite: true`).")
    var overwrite = false

    @Flag(help: "Follow the job to the end (as `tailforge wait` does) and exit non-zero unless it commits.")
    var wait = false

    @Option(help: "With --wait: seconds to keep trying while the coordinator does not answer (a restart).")
    var timeout: Double = 120

    @Flag(help: "Print the job id (and with --wait the final status) as JSON lines on stdout.")
    var json = false

    var isManifest: Bool { [".yaml", ".yml", ".json"].contains { source.lowercased().hasSuffix($0) } }

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
        if !isManifest && output == nil {
            throw ValidationError("an ad-hoc job needs --output OUT.h5 (or pass a job manifest .yaml/.json)")
        }
        if isManifest && output != nil {
            throw ValidationError("--output is for ad-hoc jobs; a manifest names its own output")
        }
        if let shards { try CommandLimits.check("shards", shards, in: JobManifest.Limits.shards) }
        if isManifest, (try? policy.settings()) != BalanceSettings() {
            throw ValidationError("the policy flags are for ad-hoc jobs; a manifest sets its own policy (edit its `policy:` section)")
        }
    }

    func run() throws {
        var manifest: JobManifest
        if isManifest {
            manifest = try ManifestLoader.load(path: source)
        } else {
            let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
            manifest = JobManifest(input: .init(datasets.spec(path: absolute(source))), output: absolute(output!),
                                   policy: try policy.settings())
        }
        if let shards { manifest.sharding.shards = shards }
        if streamInput { manifest.transfer.streamInput = true }
        if let verify { manifest.verify = verify }
        if overwrite { manifest.overwrite = true }
        // The coordinator checks again (and checks the output); this catches a bad ad-hoc job without a round trip.
        try manifest.validate(source: isManifest ? source : "the ad-hoc job")

        let security = try connection.keys.security()
        let job: String
        do { job = try ClusterClient(coordinator: connection.coordinator, security: security).submit(manifest) } catch {
            // The coordinator does not know the manifest's file name; put it back into its refusal.
            guard case .rejected("invalid-manifest", let message) = error else { throw error }
            let prefix = "the submitted manifest: "
            let reason = message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message
            throw CommandFailure("the coordinator refused the job: \(isManifest ? source : "the ad-hoc job"): \(reason)")
        }
        // The id first and flushed, even into a pipe: whoever started the job can always find it again.
        if json {
            try JSONOutput.line(["job": job, "coordinator": connection.coordinator])
        } else {
            print(job)
            fflush(nil)  // all streams: `stdout` is not concurrency-safe to name
        }
        guard wait else { return }
        let final = try WaitCommand.follow(job: job, coordinator: connection.coordinator, timeout: timeout, security: security)
        try WaitCommand.report(final, json: json)
    }
}

extension VerifyMode: ExpressibleByArgument {}
