import Foundation
import TailForgeCluster
import TailForgeEngine
import TailForgeStorage
#if canImport(Glibc)
import Glibc
#endif

/// `tailforge-bench cluster [--preset places-lt] [--dimension D] [--workers 1,2,4] [--threads T] [--shards-per-worker S]
/// [--stream-input] [--layout full|compact] [--publish copy,virtual] [--shared-shards] [--seed N] [--tailforge PATH]`
///
/// A balancing job on 1, 2 and 4 local worker processes against single-node `tailforge balance` on the same
/// input in the same run: wall time, bytes moved over the sockets (the coordinator's own metrics), coordinator and workers' CPU time,
/// the seconds the workers report for their stage-2 shards, and the synthesis
/// stage's slack per shard (scheduling, shard transfer and load imbalance), and whether every output has the
/// reference's SHA-256. With `--layout compact` the jobs and the reference write the compact layout.
/// `--publish copy,virtual` runs each worker count once per publish mode (``PublishMode``) and adds the output's
/// size; a virtual output is compared with the reference by content digests (its file bytes differ by design).
/// `--shared-shards` has workers write shards into a shared shard directory (always so for `virtual`).
enum ClusterBenchmarks {
    static func run(_ arguments: [String]) async throws {
        var preset = SyntheticPreset.placesLT
        var dimension: Int?
        var workerCounts = [1, 2, 4]
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var threads = cores
        var shardsPerWorker = 8
        var streamInput = false
        var seed: UInt64 = 1
        var layout = BalancedLayout.full
        var publishModes = [PublishMode.copy]
        var sharedShards = false
        var executable = LocalCluster.siblingExecutable()
        var it = arguments.makeIterator()
        while let flag = it.next() {
            if flag == "--stream-input" { streamInput = true; continue }
            if flag == "--shared-shards" { sharedShards = true; continue }
            guard let value = it.next() else { throw BenchmarkError.usage("\(flag) needs a value") }
            switch flag {
            case "--preset": preset = SyntheticPreset(rawValue: value) ?? preset
            case "--dimension": dimension = Int(value)
            case "--workers": workerCounts = value.split(separator: ",").compactMap { Int($0) }
            case "--threads": threads = Int(value) ?? threads
            case "--shards-per-worker": shardsPerWorker = Int(value) ?? shardsPerWorker
            case "--seed": seed = UInt64(value) ?? seed
            case "--layout": layout = BalancedLayout(rawValue: value) ?? layout
            case "--publish": publishModes = value.split(separator: ",").compactMap { PublishMode(rawValue: String($0)) }
            case "--tailforge": executable = value
            default: throw BenchmarkError.usage("unknown option \(flag)")
            }
        }
        guard let executable else { throw BenchmarkError.usage("cannot find the tailforge executable; pass --tailforge PATH") }

        let work = NSTemporaryDirectory() + "tailforge-bench-cluster-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        func path(_ name: String) -> String { (work as NSString).appendingPathComponent(name) }

        var clock = Date()
        let (train, _) = try preset.write(to: path("data"), seed: seed, dimension: dimension, threads: threads)
        let inputBytes = fileSize(train)
        print(String(format: "cluster: preset %@, d = %d, input %@ (%.1f MiB), generated in %.1f s; %d cores; tailforge %@",
                     preset.rawValue, preset.configuration(dimension: dimension).dimension, train, Double(inputBytes) / 1_048_576,
                     Date().timeIntervalSince(clock), cores, executable))

        // Reference: single-node balance, same input, same run.
        let reference = path("single.h5")
        clock = Date()
        let cpuBefore = childrenCPUSeconds()
        let balance = Process()
        balance.executableURL = URL(fileURLWithPath: executable)
        balance.arguments = ["balance", train, "--output", reference, "--seed", "\(seed)", "--threads", "\(threads)", "--layout", layout.rawValue]
        balance.standardOutput = FileHandle.nullDevice
        balance.standardError = FileHandle.nullDevice
        try balance.run()
        balance.waitUntilExit()
        guard balance.terminationStatus == 0 else { throw BenchmarkError.usage("tailforge balance failed") }
        let singleSeconds = Date().timeIntervalSince(clock)
        let singleCPU = childrenCPUSeconds() - cpuBefore
        let referenceSHA256 = try SHA256.hexDigest(ofFileAt: reference)
        let referenceContent = publishModes.contains(.virtual) ? try BalancedContentDigest.compute(ofFileAt: reference) : nil
        let outputBytes = fileSize(reference)
        try? FileManager.default.removeItem(atPath: reference)
        print(String(format: "single-node balance --layout %@ (%d threads): wall %.2f s, CPU %.2f s, output %.1f MiB, SHA-256 %@",
                     layout.rawValue, threads, singleSeconds, singleCPU, Double(outputBytes) / 1_048_576, referenceSHA256))

        print("workers  threads/worker  shards  publish  wall s  vs single  plan s  κ s  synth s  gather s  coordinator CPU s  worker CPU s  stage-2 shard s  MiB moved  output MiB  slack/shard ms  same bytes")
        for (count, publish) in workerCounts.flatMap({ count in publishModes.map { (count, $0) } }) {
            let perWorker = max(1, threads / count)
            let cluster = LocalCluster(executable: executable, directory: path("cluster-\(count)-\(publish.rawValue)"))
            cluster.dataRoots = [work]
            cluster.coordinatorArguments = CoordinatorTraffic.coordinatorArguments
            defer { cluster.stop() }
            try await cluster.start(workers: count, threadsPerWorker: perWorker)
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 600)
            let output = path("cluster-\(count).h5")
            let shards = count * shardsPerWorker
            let shared = sharedShards || publish == .virtual ? path("shared-\(count)-\(publish.rawValue)") : nil
            if let shared { try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true) }
            let manifest = JobManifest(name: "bench-\(count)", input: .init(path: train), output: output, overwrite: true,
                                       policy: BalanceSettings(seed: seed), sharding: .init(shards: shards),
                                       transfer: .init(streamInput: streamInput, sharedShardDirectory: shared), layout: layout,
                                       publish: publish)
            let coordinatorPID = cluster.coordinator!.processIdentifier
            let cpuStart = processCPUSeconds(coordinatorPID)
            let workerPIDs = cluster.workers.map(\.processIdentifier)
            let workerCPUStart = workerPIDs.reduce(0) { $0 + processCPUSeconds($1) }
            clock = Date()
            let job = try client.submit(manifest)
            let final = try client.watch(job: job) { _ in }
            let wall = Date().timeIntervalSince(clock)
            let coordinatorCPU = processCPUSeconds(coordinatorPID) - cpuStart
            let workerCPU = workerPIDs.reduce(0) { $0 + processCPUSeconds($1) } - workerCPUStart
            guard final.state == .committed else {
                print("\(count) workers: job \(final.state.rawValue): \(final.error ?? "")")
                continue
            }
            let resolved = try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: output))
            let sha = try SHA256.hexDigest(ofFileAt: output)
            let same = publish == .virtual ? (resolved.outputContentSHA256 == referenceContent ? "yes (content)" : "NO (content)")
                : sha == referenceSHA256 ? "yes" : "NO (\(sha))"

            // Bytes over the sockets: shard files fetched and input copies streamed, as the coordinator's metrics
            // count them (a compact job fetches none), plus κ both ways (4 bytes per real row, inside job messages).
            let traffic = try await CoordinatorTraffic.scrape(stateDirectory: cluster.stateDirectory)
            let realRows = Int64(preset.configuration(dimension: dimension).trainCounts.reduce(0, +))
            let moved = traffic["received/shard"] + traffic["sent/input"] + 2 * 4 * realRows

            let synthesis = resolved.stageSeconds["synthesis"] ?? 0
            let busy = resolved.shards.reduce(0) { $0 + $1.seconds }
            let slack = (synthesis * Double(count) - busy) / Double(max(1, resolved.shards.count))
            print(String(format: "%7d  %14d  %6d  %@  %6.2f  %8.2fx  %6.2f  %4.2f  %7.2f  %8.2f  %17.2f  %12.2f  %15.2f  %9.1f  %10.3f  %14.1f  %@",
                         count, perWorker, resolved.shards.count, publish.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0), wall, singleSeconds / wall, resolved.stageSeconds["plan"] ?? 0,
                         resolved.stageSeconds["concentrations"] ?? 0, synthesis, resolved.stageSeconds["gather"] ?? 0,
                         coordinatorCPU, workerCPU, busy, Double(moved) / 1_048_576, Double(fileSize(output)) / 1_048_576, slack * 1000, same))
            cluster.stop()
            try? FileManager.default.removeItem(atPath: output)
            try? FileManager.default.removeItem(atPath: VirtualBalancedDataset.shardDirectory(forOutput: output))
            if let shared { try? FileManager.default.removeItem(atPath: shared) }
            try? FileManager.default.removeItem(atPath: cluster.directory)
        }
    }

    static func fileSize(_ path: String) -> Int64 {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// User + system CPU seconds of a running process, from /proc/PID/stat (fields 14 and 15, in clock ticks).
    static func processCPUSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return .nan }
        // Fields after the parenthesised command name start at field 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// User + system CPU seconds of every waited-for child so far.
    static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
