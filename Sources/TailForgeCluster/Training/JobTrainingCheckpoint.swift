import Foundation
import TailForgeStorage
import TailForgeTraining

/// Where a job's fit keeps its optimiser state, and whether the state found there may continue it.
///
/// A job with a `train:` section checkpoints each fit after every L-BFGS iteration into the job's directory in the
/// coordinator's state directory, in the format `train --distributed --checkpoint` writes (``TrainingCheckpoint``:
/// raw float64 values with a CRC-32C, written atomically), so a coordinator restarted mid-training continues from
/// its last completed iteration instead of iteration 0 — to the same model bytes, because the continuation of an
/// L-BFGS state is bit-identical to the uninterrupted run. The job's directory goes when the job commits, fails
/// or is cancelled, and the checkpoints with it.
///
/// The file is bound to the job: its fingerprint carries the job id, the balanced set's identity (which digests
/// the input, the policy and the κ), the set's shape, and a digest of which fit it is and of the `train:`
/// section. It is deliberately not bound to the parts: the partial sums add exactly, so the optimiser's path does
/// not depend on how many workers share the set, and a restarted coordinator may see another number of workers.
struct JobTrainingCheckpoint: Sendable {
    /// The fits of a job: the final fit, then `train --calibrate`'s calibration fit (only with `calibrate: true`),
    /// started from the final fit's weights; with `l2: auto`, one calibration fit per λ candidate fitted, then the
    /// final fit.
    enum Fit: String, Sendable, CaseIterable {
        case calibration, final

        var fileName: String { "\(rawValue)-fit.checkpoint" }
    }

    var path: String
    var fingerprint: TrainingCheckpoint.Fingerprint

    /// `candidate` is the position of the fit's λ on an `l2: auto` path (each candidate's calibration fit has its own
    /// file, so a restart continues the path where it was), `l2` the fit's λ (the chosen one for the final fit after
    /// a search); without them, the fit is the section's own and at its `l2`. `afterFinalFit` marks a calibration fit
    /// started from the final fit's weights (``CalibrationFitPlan``): its checkpoint never continues one started from
    /// zero, as a job's calibration fit was before it followed the final fit.
    init(directory: String, fit: Fit, candidate: Int? = nil, afterFinalFit: Bool = false, l2: Double? = nil, job: String,
         train: JobManifest.Train, identity: String, rows: Int, classCount: Int, dimension: Int, blockRows: Int) {
        path = (directory as NSString).appendingPathComponent(candidate.map { "\(fit.rawValue)-fit-\($0 + 1).checkpoint" } ?? fit.fileName)
        fingerprint = TrainingCheckpoint.Fingerprint(
            shardSHA256: [identity], rows: rows, classCount: classCount, dimension: dimension, l2: l2 ?? train.settings.l2,
            classWeighting: train.settings.classWeighting.name, blockRows: blockRows, historySize: train.settings.optimizer.historySize,
            job: job, settingsSHA256: Self.settingsDigest(fit: fit, candidate: candidate, afterFinalFit: afterFinalFit, train: train))
    }

    /// SHA-256 of the fit's name (and λ candidate) and the `train:` section as the journal holds it (sorted keys):
    /// every setting a manifest can give, so a checkpoint never continues a fit with other tolerances, iterations,
    /// hold-out or λ grid.
    static func settingsDigest(fit: Fit, candidate: Int? = nil, afterFinalFit: Bool = false, train: JobManifest.Train) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let section = (try? encoder.encode(train)).map { [UInt8]($0) } ?? []
        let name = fit.rawValue + (candidate.map { " \($0 + 1)" } ?? "") + (afterFinalFit ? " after the final fit" : "")
        return SHA256.hexDigest(of: Array("\(name)\n".utf8) + section)
    }

    /// What a fit starts from.
    enum Start: Equatable {
        /// No checkpoint: iteration 0.
        case fresh
        case resume(LBFGSState)
        /// A file is there that may not continue this fit (unreadable, or written for another job or other settings):
        /// the fit starts from iteration 0 and its first checkpoint replaces the file.
        case refused(String)

        var state: LBFGSState? {
            if case .resume(let state) = self { state } else { nil }
        }
    }

    /// The decision on what was found at the checkpoint's path (nil: nothing).
    static func start(found: Result<TrainingCheckpoint, DistributedTrainingError>?, expected: TrainingCheckpoint.Fingerprint) -> Start {
        switch found {
        case nil: .fresh
        case .failure(let error): .refused("\(error)")
        case .success(let checkpoint):
            if let difference = checkpoint.fingerprint.difference(from: expected) { .refused("it belongs to another run: \(difference)") }
            else { .resume(checkpoint.state) }
        }
    }

    /// Reads the checkpoint, if there is one, and decides; first removes what a coordinator killed while writing
    /// one left (the checkpoint at `path` is then the previous iteration's).
    func load() -> Start {
        Housekeeping.removeDeadTemporaries(of: path)
        guard FileManager.default.fileExists(atPath: path) else { return .fresh }
        let found: Result<TrainingCheckpoint, DistributedTrainingError>
        do { found = .success(try TrainingCheckpoint.read(path: path)) } catch { found = .failure(error) }
        return Self.start(found: found, expected: fingerprint)
    }

    /// Replaces the checkpoint with `state`, atomically.
    func save(_ state: LBFGSState) throws(DistributedTrainingError) {
        try TrainingCheckpoint(fingerprint: fingerprint, state: state).write(to: path)
    }
}
