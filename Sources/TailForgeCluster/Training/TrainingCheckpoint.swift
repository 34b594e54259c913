import Foundation
import TailForgeStorage
import TailForgeTraining

/// The optimiser state of a distributed training run (weights + L-BFGS history, ``LBFGSState``) together with
/// what it was trained on, saved every K iterations so a killed trainer resumes to the same final model.
///
/// File layout (little-endian): `TFCKPT01`, a UInt64 header length, a JSON header (the fingerprint, the
/// integer counters, the vector length and history size), then float64 values — loss, previous loss,
/// initial gradient norm, seconds, ρ of each pair, x, gradient, then s and y of each pair — and finally the
/// CRC-32C of everything after the magic. Values are stored as raw bits, never as text, so a resumed run
/// continues from exactly the same numbers. Written to a temporary sibling, fsynced and renamed into place.
public struct TrainingCheckpoint: Sendable, Equatable {
    /// What must match for a checkpoint to continue a run.
    public struct Fingerprint: Codable, Sendable, Equatable {
        public var shardSHA256: [String]
        public var rows: Int
        public var classCount: Int
        public var dimension: Int
        public var l2: Double
        public var classWeighting: String
        public var blockRows: Int
        public var historySize: Int
        /// The job whose training wrote it (a job with a `train:` section, whose coordinator keeps the checkpoint in
        /// its state directory); nil for `train --distributed`. Absent from the file when nil, so those files are as
        /// before.
        public var job: String?
        /// SHA-256 of what else a job's fit depends on (which fit, the job's `train:` section: ``JobTrainingCheckpoint``).
        public var settingsSHA256: String?

        public init(shardSHA256: [String], rows: Int, classCount: Int, dimension: Int, l2: Double, classWeighting: String,
                    blockRows: Int, historySize: Int, job: String? = nil, settingsSHA256: String? = nil) {
            self.shardSHA256 = shardSHA256; self.rows = rows; self.classCount = classCount; self.dimension = dimension
            self.l2 = l2; self.classWeighting = classWeighting; self.blockRows = blockRows; self.historySize = historySize
            self.job = job; self.settingsSHA256 = settingsSHA256
        }

        /// The first difference from `other`, in words, or nil when they match.
        public func difference(from other: Fingerprint) -> String? {
            if job != other.job { return "it was written for \(job.map { "job " + $0 } ?? "`train --distributed`"), not \(other.job.map { "job " + $0 } ?? "`train --distributed`")" }
            if settingsSHA256 != other.settingsSHA256 { return "the job's training settings differ (or it is the checkpoint of another fit)" }
            if shardSHA256 != other.shardSHA256 { return "the shard files differ (SHA-256 or order)" }
            if rows != other.rows || classCount != other.classCount || dimension != other.dimension {
                return "the data shape differs (\(rows) rows, \(classCount) classes, d = \(dimension) vs \(other.rows), \(other.classCount), \(other.dimension))"
            }
            if l2 != other.l2 { return "--l2 differs (\(l2) vs \(other.l2))" }
            if classWeighting != other.classWeighting { return "--class-weight differs (\(classWeighting) vs \(other.classWeighting))" }
            if blockRows != other.blockRows { return "the block size differs (\(blockRows) vs \(other.blockRows))" }
            if historySize != other.historySize { return "the L-BFGS history size differs (\(historySize) vs \(other.historySize))" }
            return nil
        }
    }

    public var fingerprint: Fingerprint
    public var state: LBFGSState

    public init(fingerprint: Fingerprint, state: LBFGSState) {
        self.fingerprint = fingerprint
        self.state = state
    }

    static let magic = Array("TFCKPT01".utf8)

    private struct Header: Codable {
        var fingerprint: Fingerprint
        var iteration: Int
        var evaluations: Int
        var hasPreviousLoss: Bool
        var parameterCount: Int
        var historyCount: Int
    }

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        let n = state.x.count
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = try! encoder.encode(Header(fingerprint: fingerprint, iteration: state.iteration, evaluations: state.evaluations,
                                                hasPreviousLoss: state.previousLoss != nil, parameterCount: n,
                                                historyCount: state.history.count))
        var values: [Double] = [state.loss, state.previousLoss ?? 0, state.initialGradientNorm, state.seconds]
        values += state.history.map(\.rho)
        values.reserveCapacity(values.count + n * (2 + 2 * state.history.count))
        values += state.x
        values += state.gradient
        for pair in state.history { values += pair.s; values += pair.y }
        var body = [UInt8]()
        body.reserveCapacity(8 + header.count + values.count * 8 + 4)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { body += $0 }
        body += header
        let start = body.count
        body += [UInt8](repeating: 0, count: values.count * 8)
        body.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: start + index * 8, as: UInt64.self)
            }
        }
        withUnsafeBytes(of: CRC32C.checksum(body).littleEndian) { body += $0 }
        return Self.magic + body
    }

    /// Parses a checkpoint file's bytes; `path` is for messages.
    public static func decode(_ bytes: [UInt8], path: String) throws(DistributedTrainingError) -> TrainingCheckpoint {
        func corrupt(_ reason: String) -> DistributedTrainingError {
            .checkpoint(path: path, reason: "\(reason); it is not a complete TailForge training checkpoint (delete it to start over)")
        }
        guard bytes.count >= magic.count + 12, Array(bytes.prefix(magic.count)) == magic else { throw corrupt("wrong magic") }
        let body = bytes[magic.count ..< bytes.count - 4]
        let stored = bytes.suffix(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        guard CRC32C.checksum(body) == stored else { throw corrupt("checksum mismatch") }
        let headerLength = body.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard headerLength >= 0, headerLength <= body.count - 8 else { throw corrupt("bad header length") }
        let headerStart = body.startIndex + 8
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(body[headerStart ..< headerStart + headerLength])) }
        catch { throw corrupt("unreadable header (\(error))") }
        let n = header.parameterCount, m = header.historyCount
        guard n >= 0, m >= 0 else { throw corrupt("negative sizes") }
        let valueCount = 4 + m + n * (2 + 2 * m)
        let valuesStart = headerStart + headerLength
        guard body.endIndex - valuesStart == valueCount * 8 else { throw corrupt("expected \(valueCount) values") }
        let values = body[valuesStart...].withUnsafeBytes { raw in
            (0 ..< valueCount).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
        }
        var offset = 4 + m
        func take() -> [Double] { defer { offset += n }; return Array(values[offset ..< offset + n]) }
        let x = take(), gradient = take()
        var history: [LBFGSState.Correction] = []
        for k in 0 ..< m {
            let s = take(), y = take()
            history.append(LBFGSState.Correction(s: s, y: y, rho: values[4 + k]))
        }
        let state = LBFGSState(iteration: header.iteration, evaluations: header.evaluations, x: x, loss: values[0],
                               previousLoss: header.hasPreviousLoss ? values[1] : nil, gradient: gradient,
                               initialGradientNorm: values[2], history: history, seconds: values[3])
        return TrainingCheckpoint(fingerprint: header.fingerprint, state: state)
    }

    /// Writes atomically (``AtomicFile``): a temporary sibling `.NAME.tmp-PID-N`, fsynced, renamed over `path`, the
    /// directory fsynced — a reader finds the previous checkpoint or this one, never a torn file.
    public func write(to path: String) throws(DistributedTrainingError) {
        do { try AtomicFile.write(encoded(), to: path) } catch {
            throw .checkpoint(path: path, reason: "cannot write: \(error)")
        }
    }

    /// Reads a checkpoint file.
    public static func read(path: String) throws(DistributedTrainingError) -> TrainingCheckpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .checkpoint(path: path, reason: "cannot read the file")
        }
        return try decode([UInt8](data), path: path)
    }
}
