import Foundation
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage

/// The balancing method's coordinator side: plans shards from the input's labels, applies the κ fallback over
/// all classes, and gathers the shard files into the same bytes single-node `tailforge balance` writes.
public struct EngineJobBackend: JobBackend {
    /// Rows per HDF5 chunk of the published output; must equal `BalanceRunner`'s for identical bytes.
    public var chunkRows: Int

    /// The input rows of each class of the last input checked (provenance checks), keyed by path and digest.
    private let members = ClassMembersCache()
    /// The last compact job's input, normalised: its stage-2 checks and its gather derive rows from it.
    private let inputs = JobInputCache()

    public init(chunkRows: Int = 4096) {
        self.chunkRows = chunkRows
    }

    public func checkConcentrations(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, kappas: [Float]) throws {
        try validator(manifest, job, shard: shard, members: []).checkConcentrations(kappas)
    }

    public func checkShard(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, file: ShardFile, kappas: [Float]) throws {
        try ShardFile.checkDigest(file)
        let members = try members.members(manifest.input.spec(), sha256: job.inputSHA256, classCount: job.classCount)
        try validator(manifest, job, shard: shard, members: members).checkFile(at: file.path, kappas: kappas)
    }

    func validator(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, members: [[Int]]) -> ShardResultValidator {
        ShardResultValidator(classes: job.shards[shard], settings: manifest.policy,
                             dimension: job.dimension, members: members)
    }

    public func prepare(_ manifest: JobManifest, shardCount: Int) throws -> PreparedJob {
        let settings = manifest.policy
        do { try settings.validate() } catch { throw ClusterJobError.settings(error) }
        let spec = manifest.input.spec()
        let sha256: String
        do throws(StorageError) { sha256 = try SHA256.hexDigest(ofFileAt: spec.path) } catch { throw ClusterJobError.storage(error) }
        if let pinned = manifest.input.sha256, pinned.lowercased() != sha256 {
            throw ClusterJobError.inputChanged(path: spec.path, expected: pinned, actual: sha256)
        }
        let (sizes, dimension) = try Self.classSizes(spec)
        let plan: BalancePlan
        do throws(BalanceSettingsError) { plan = try BalancePlan(classSizes: sizes, settings: settings) } catch { throw ClusterJobError.settings(error) }
        let (shards, costs) = ShardPlanner.shards(plan, dimension: dimension, shardCount: shardCount)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: spec.path)[.size] as? NSNumber)?.int64Value ?? 0
        return PreparedJob(inputSHA256: sha256, inputBytes: bytes, classCount: sizes.count, dimension: dimension,
                           totalRows: plan.totalRows, shards: shards, shardCosts: costs)
    }

    /// Rows per class and the dimension, from the labels alone (the coordinator never loads the embeddings).
    /// The class count follows `BalanceInput.load`: class names, else the manifest's count, else largest label + 1.
    static func classSizes(_ spec: InputSpec) throws -> (sizes: [Int], dimension: Int) {
        do {
            let file = try LabeledEmbeddingsFile(path: spec.path, embeddings: spec.embeddingsDataset, labels: spec.labelsDataset,
                                                 classNames: spec.classNamesDataset)
            let labels = try file.readLabels()
            guard !labels.isEmpty else { throw ClusterJobError.balance(.emptyInput(file: spec.path)) }
            let classCount = file.classNames?.count ?? spec.classCount ?? (Int(labels.max() ?? -1) + 1)
            var sizes = [Int](repeating: 0, count: classCount)
            for (row, label) in labels.enumerated() {
                guard label >= 0, Int(label) < classCount else {
                    throw ClusterJobError.balance(.labelOutOfRange(file: spec.path, dataset: spec.labelsDataset, row: row,
                                                                   label: Int(label), classCount: classCount))
                }
                sizes[Int(label)] += 1
            }
            return (sizes, file.dimension)
        } catch let error as StorageError {
            throw ClusterJobError.storage(error)
        }
    }

    public func synthesisKappas(_ manifest: JobManifest, _ job: PreparedJob, stageOne: [[Float]]) throws -> (kappas: [[Float]], fallback: Float?) {
        var perClass = try job.kappasByClass(stageOne)
        let fallback: Float?
        do { (fallback, _) = try ConcentrationEstimator.applyFallback(&perClass, policy: manifest.policy.kappa, file: manifest.input.path) } catch {
            throw ClusterJobError.balance(error)
        }
        let kappas = job.shards.map { classes in classes.flatMap { perClass[$0.classId] } }
        return (kappas, fallback)
    }

    public func gather(_ manifest: JobManifest, _ job: PreparedJob, shards: [ShardFile], kappas: [[Float]], fallback: Float?) throws -> GatherReport {
        if manifest.outputLayout == .compact { return try gatherCompact(manifest, job, kappas: kappas, fallback: fallback) }
        guard shards.count == job.shards.count else {
            throw ClusterJobError.missingShard(shard: min(shards.count, job.shards.count), path: "")
        }
        for (index, shard) in shards.enumerated() where shard.path.isEmpty || !FileManager.default.fileExists(atPath: shard.path) {
            throw ClusterJobError.missingShard(shard: index, path: shard.path)
        }
        try verifyDigests(shards)

        // Where each class's rows are: (shard, first row in that shard file).
        var location = [Int: (shard: Int, row: Int)]()
        var files: [BalancedDatasetFile] = []
        var columns: [(labels: [Int32], isSynthetic: [UInt8], sourceIndex: [Int64], kappa: [Float])] = []
        for (index, shard) in shards.enumerated() {
            let classes = job.shards[index]
            do {
                let file = try BalancedDatasetFile(path: shard.path)
                let expected = classes.reduce(0) { $0 + $1.outputCount }
                guard file.count == expected else {
                    throw ClusterJobError.shardRowsMismatch(shard: index, path: shard.path, reason: "\(file.count) rows, the plan expects \(expected)")
                }
                guard file.dimension == job.dimension else {
                    throw ClusterJobError.shardRowsMismatch(shard: index, path: shard.path, reason: "dimension \(file.dimension), the input has \(job.dimension)")
                }
                if case .string(let digest)? = file.attributes["input_sha256"], digest != job.inputSHA256 {
                    throw ClusterJobError.shardRowsMismatch(shard: index, path: shard.path, reason: "computed from input \(digest), the job's is \(job.inputSHA256)")
                }
                let labels = try file.readLabels()
                let expectedLabels = ShardRows.labels(classes, rows: \.outputCount)
                guard labels == expectedLabels else {
                    throw ClusterJobError.shardRowsMismatch(shard: index, path: shard.path, reason: "its labels do not follow the plan's classes and row counts")
                }
                columns.append((labels, try file.readIsSynthetic(), try file.readSourceIndex(), try file.readKappa()))
                files.append(file)
            } catch let error as StorageError {
                throw ClusterJobError.storage(error)
            }
            ShardRows.record(classes, shard: index, rows: \.outputCount, in: &location)
        }

        let plan = try job.plan(manifest.policy)
        guard plan.totalRows == job.totalRows else {
            throw ClusterJobError.planMismatch(reason: "the gathered plan has \(plan.totalRows) rows, the prepared job \(job.totalRows)")
        }
        let spec = manifest.input.spec()
        let attributes = BalanceAttributes.make(settings: manifest.policy, input: spec, inputSHA256: job.inputSHA256, plan: plan,
                                                dimension: job.dimension, fallbackKappa: fallback)
        do {
            let classNames = try LabeledEmbeddingsFile(path: spec.path, embeddings: spec.embeddingsDataset, labels: spec.labelsDataset,
                                                       classNames: spec.classNamesDataset).classNames
            if manifest.publishMode == .virtual {
                return try publishVirtual(manifest, plan: plan, attributes: attributes, classNames: classNames, shards: shards, files: files,
                                          columns: columns, location: location, fallback: fallback)
            }
            let writer = try BalancedDatasetWriter(path: manifest.output, dimension: job.dimension, totalRows: plan.totalRows,
                                                   attributes: attributes, classNames: classNames, chunkRows: chunkRows)
            do {
                // Class-major, as single-node balance writes it.
                for entry in plan.classes where entry.outputCount > 0 {
                    guard let (shard, first) = location[entry.classId] else {
                        throw ClusterJobError.planMismatch(reason: "class \(entry.classId) is in no shard")
                    }
                    let rows = first..<first + entry.outputCount
                    let c = columns[shard]
                    try writer.append(embeddings: try files[shard].readEmbeddings(rows: rows), labels: Array(c.labels[rows]),
                                      isSynthetic: Array(c.isSynthetic[rows]), sourceIndex: Array(c.sourceIndex[rows]), kappa: Array(c.kappa[rows]))
                }
                // The identity, as single-node balance records it at commit.
                try writer.commit(attributes: BalanceAttributes.identity(attributes, writer: writer))
            } catch {
                writer.abandon()
                throw error
            }
            return GatherReport(outputSHA256: try SHA256.hexDigest(ofFileAt: manifest.output), outputContentSHA256: writer.contentDigests,
                                rows: plan.totalRows, fallbackKappa: fallback)
        } catch let error as StorageError {
            throw ClusterJobError.storage(error)
        }
    }

    /// `publish: virtual`: the output maps each class's block of rows in its shard file (the files as given, which
    /// the coordinator placed beside the output), in class order, instead of copying them. The rows are still
    /// read once, for the content digests and the set's identity, so both equal a copied file's.
    func publishVirtual(_ manifest: JobManifest, plan: BalancePlan, attributes: [String: AttributeValue], classNames: [String]?,
                        shards: [ShardFile], files: [BalancedDatasetFile],
                        columns: [(labels: [Int32], isSynthetic: [UInt8], sourceIndex: [Int64], kappa: [Float])],
                        location: [Int: (shard: Int, row: Int)], fallback: Float?) throws -> GatherReport {
        let directory = (manifest.output as NSString).deletingLastPathComponent + "/"
        var hasher = BalancedContentHasher(dimension: files.first?.dimension ?? 1)
        var blocks: [VirtualBalancedDataset.Block] = []
        for entry in plan.classes where entry.outputCount > 0 {
            guard let (shard, first) = location[entry.classId] else {
                throw ClusterJobError.planMismatch(reason: "class \(entry.classId) is in no shard")
            }
            let rows = first..<first + entry.outputCount
            let c = columns[shard]
            hasher.update(embeddings: try files[shard].readEmbeddings(rows: rows), labels: Array(c.labels[rows]),
                          isSynthetic: Array(c.isSynthetic[rows]), sourceIndex: Array(c.sourceIndex[rows]), kappa: Array(c.kappa[rows]))
            // Relative to the output's directory, so the output and its shard directory move together.
            let path = shards[shard].path
            blocks.append(.init(shard: path.hasPrefix(directory) ? String(path.dropFirst(directory.count)) : path, rows: rows))
        }
        var complete = attributes
        complete.merge(BalanceAttributes.identity(attributes, realContent: hasher.realContentDigests)) { $1 }
        let rows = try VirtualBalancedDataset.publish(path: manifest.output, blocks: blocks, attributes: complete, classNames: classNames)
        guard rows == plan.totalRows else {
            try? FileManager.default.removeItem(atPath: manifest.output)
            throw ClusterJobError.planMismatch(reason: "the virtual output maps \(rows) rows, the plan has \(plan.totalRows)")
        }
        return GatherReport(outputSHA256: try SHA256.hexDigest(ofFileAt: manifest.output),
                            outputContentSHA256: hasher.digests(BalancedLayout.full.rowDatasets), rows: rows, fallbackKappa: fallback)
    }

    /// A compact job: the file single-node `balance --layout compact` writes, byte for byte, derived here from the
    /// job's input (read and checked against its SHA-256; the coordinator has it, it planned from it) and the κ the
    /// workers computed — the same code as single-node `balance` after its stage 1 (`BalanceRunner.write`). The
    /// compact shards stay on their workers: their real rows are rows of this input, and their digests were
    /// checked against the same derivation when each was reported (``checkCompactShard``).
    func gatherCompact(_ manifest: JobManifest, _ job: PreparedJob, kappas: [[Float]], fallback: Float?) throws -> GatherReport {
        defer { inputs.forget() }
        let data = try inputs.input(path: manifest.input.path, sha256: job.inputSHA256, input: manifest.input)
        // The job's plan, checked against the input as loaded (the same file: its SHA-256 was checked).
        guard data.classSizes == job.classSizes, data.dimension == job.dimension else {
            throw ClusterJobError.planMismatch(reason: "the input's class sizes or dimension differ from the prepared job's")
        }
        let runner = BalanceRunner(input: manifest.input.spec(), outputPath: manifest.output, settings: manifest.policy,
                                   chunkRows: chunkRows, layout: .compact)
        let perClass = try job.kappasByClass(kappas)
        let written: BalanceRunner.Written
        do throws(BalanceError) {
            written = try runner.write(data, inputSHA256: job.inputSHA256, kappas: perClass, fallback: fallback)
        } catch {
            throw ClusterJobError.balance(error)
        }
        guard let outputSHA256 = written.outputSHA256 else { throw ClusterJobError.planMismatch(reason: "the compact output was not digested") }
        return GatherReport(outputSHA256: outputSHA256, outputContentSHA256: written.contentDigests, rows: written.plan.realRows,
                            fallbackKappa: fallback)
    }

    public func checkCompactShard(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, contentSHA256: [String: String]?,
                                  syntheticProbeSHA256: String?, kappas: [[Float]]) throws {
        let data = try inputs.input(path: manifest.input.path, sha256: job.inputSHA256, input: manifest.input)
        let settings = manifest.policy
        let plan = try job.plan(settings)
        let perClass = try job.kappasByClass(kappas)
        let probeClass = plan.compactProbeClass
        let classes = job.shards[shard]
        let holdsProbe = classes.contains { $0.classId == probeClass }
        // The guard matters only to the probe class's draw (every other class is real rows), and is built from all classes.
        let driftGuard = holdsProbe ? DriftGuard(data: data, kappas: perClass, plan: plan, settings: settings) : nil
        var hasher = BalancedContentHasher(dimension: data.dimension)
        var probe: String?
        // The worker's blocks, in its order: every class of the shard (``EngineShardExecutor``).
        for task in classes {
            let (block, digest) = BalanceEngine.compactBlock(entry: plan.classes[task.classId], from: data, kappas: perClass[task.classId],
                                                             settings: settings, probe: task.classId == probeClass, driftGuard: driftGuard)
            if let digest { probe = digest }
            hasher.update(embeddings: block.embeddings.storage, labels: [Int32](repeating: Int32(block.classId), count: block.count),
                          isSynthetic: block.isSynthetic, sourceIndex: block.sourceIndex, kappa: block.kappa)
        }
        let names = BalancedLayout.compact.rowDatasets
        let derived = hasher.digests(names)
        for name in [names.embeddings, names.labels, names.sourceIndex, names.kappa] where contentSHA256?[name] != derived[name] {
            throw ShardResultError.contentDigest(what: "/\(name)", reported: contentSHA256?[name], derived: derived[name]!)
        }
        if let probe, syntheticProbeSHA256 != probe {
            throw ShardResultError.contentDigest(what: "probe class \(probeClass!)'s synthetic rows", reported: syntheticProbeSHA256, derived: probe)
        }
    }

    /// Every shard file's SHA-256 against the digest its worker reported, two files at a time.
    func verifyDigests(_ shards: [ShardFile]) throws {
        let failures = ConcurrentResults<ClusterJobError>(count: shards.count)
        ComputePool.forEach(shards.count, width: 2) { index in
            let shard = shards[index]
            do throws(StorageError) {
                let actual = try SHA256.hexDigest(ofFileAt: shard.path)
                if actual != shard.sha256 {
                    failures.set(index, .shardDigestMismatch(shard: index, path: shard.path, expected: shard.sha256, actual: actual))
                }
            } catch {
                failures.set(index, .storage(error))
            }
        }
        if let first = failures.values.compactMap({ $0 }).first { throw first }
    }
}

/// How a shard file lays out its classes: class-major, in plan order, `rows` rows each (all output rows in a full
/// shard, the kept real rows in a compact one). One place for both gathers, so the two layouts cannot drift apart.
enum ShardRows {
    /// The labels the shard must hold.
    static func labels(_ classes: [ClassTask], rows: KeyPath<ClassTask, Int>) -> [Int32] {
        classes.flatMap { repeatElement(Int32($0.classId), count: $0[keyPath: rows]) }
    }

    /// Records, for every class of the shard, the shard index and the row its block starts at.
    static func record(_ classes: [ClassTask], shard: Int, rows: KeyPath<ClassTask, Int>,
                       in location: inout [Int: (shard: Int, row: Int)]) {
        var row = 0
        for task in classes {
            location[task.classId] = (shard, row)
            row += task[keyPath: rows]
        }
    }
}
