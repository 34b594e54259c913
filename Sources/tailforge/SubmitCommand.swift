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

    @Option(help: "The coordinator's endpoint.")
    var coordinator: String = "tcp://127.0.0.1:5555"

    @Option(help: "Output file of an ad-hoc job.")
    var output: String?

    @OptionGroup var policy: BalanceOptions
    @OptionGroup var datasets: InputDatasetOptions

    @Option(help: "Number of shards (default: four per registered worker).")
    var shards: Int?

    @Flag(help: "Stream the input to workers instead of letting them read it from a shared path.")
    var streamInput = false

    @Flag(help: "Replace an existing output and its resolved manifest (the manifest's `overwrite: true`).")
    var overwrite = false

    @Flag(help: "Follow the job with a progress bar and exit non-zero if it fails.")
    var wait = false

    var isManifest: Bool { [".yaml", ".yml", ".json"].contains { source.lowercased().hasSuffix($0) } }

    func validate() throws {
        if !isManifest && output == nil {
            throw ValidationError("an ad-hoc job needs --output OUT.h5 (or pass a job manifest .yaml/.json)")
        }
        if isManifest && output != nil {
            throw ValidationError("--output is for ad-hoc jobs; a manifest names its own output")
        }
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
        if overwrite { manifest.overwrite = true }
        // The coordinator checks again (and checks the output); this catches a bad ad-hoc job without a round trip.
        try manifest.validate(source: isManifest ? source : "the ad-hoc job")

        let client = try ClusterClient(coordinator: coordinator)
        let job = try client.submit(manifest)
        print(job)
        guard wait else { return }
        let bar = JobProgressBar()
        let final = try client.watch(job: job) { bar.show($0) }
        bar.finish(final)
        if final.state != .committed {
            throw ExitCode.failure
        }
    }
}

/// A one-line live progress report on stderr.
struct JobProgressBar {
    func show(_ status: JobStatus) {
        let fraction = status.totalRows > 0 ? Double(status.rowsWritten) / Double(status.totalRows) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = fraction > 0 && fraction < 1 ? String(format: " ETA %.0fs", status.elapsedSeconds * (1 - fraction) / fraction) : ""
        let line = String(format: "\r[%@] %@ %@ shards %d/%d classes %d/%d rows %d/%d workers %d%@   ",
                          bar, status.state.rawValue, status.stage?.rawValue ?? "planning", status.shardsDone, status.shardCount,
                          status.classesDone, status.classCount, status.rowsWritten, status.totalRows, status.workers, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish(_ status: JobStatus) {
        show(status)
        FileHandle.standardError.write(Data("\n".utf8))
        if let error = status.error {
            FileHandle.standardError.write(Data("job \(status.job) \(status.state.rawValue): \(error)\n".utf8))
        }
    }
}
