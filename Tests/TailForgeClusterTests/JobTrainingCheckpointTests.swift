import Foundation
import TailForgeTestSupport
import Testing
import TailForgeTraining
@testable import TailForgeCluster

/// The checkpoint a job's trainer keeps in the coordinator's state directory: continued only by the same fit of the
/// same job with the same settings over the same balanced set, refused (the fit starts from iteration 0) otherwise.
@Suite struct JobTrainingCheckpointTests {
    static let train = JobManifest.Train(settings: TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 40)))

    static func checkpoint(_ directory: String, fit: JobTrainingCheckpoint.Fit = .final, job: String = "job-a", train: JobManifest.Train = train,
                           identity: String = "set-1") -> JobTrainingCheckpoint {
        JobTrainingCheckpoint(directory: directory, fit: fit, job: job, train: train, identity: identity, rows: 5_000, classCount: 3,
                              dimension: 2, blockRows: 1024)
    }

    static let state = LBFGSState(iteration: 7, evaluations: 9, x: [0.5, -1, 2, 0.25, 1e-300, -0], loss: 1.25, previousLoss: 1.5,
                                  gradient: [1, 2, 3, 4, 5, 6], initialGradientNorm: 10,
                                  history: [.init(s: [1, 1, 1, 1, 1, 1], y: [2, 2, 2, 2, 2, 2], rho: 1.0 / 12)], seconds: 3.5)

    @Test func theSameFitOfTheSameJobContinuesFromTheSavedStateBitForBit() throws {
        try withTemporaryDirectory("job-checkpoint") { directory in
            let checkpoint = Self.checkpoint(directory)
            #expect(checkpoint.load() == .fresh)
            try checkpoint.save(Self.state)
            #expect(checkpoint.path == directory + "/final-fit.checkpoint")
            #expect(checkpoint.load() == .resume(Self.state))
            // Another number of workers (parts) does not enter the binding: a fresh value with the same job and set continues it.
            #expect(Self.checkpoint(directory).load().state == Self.state)
        }
    }

    @Test func aCheckpointOfAnotherJobFitSettingsOrSetIsRefused() throws {
        try withTemporaryDirectory("job-checkpoint") { directory in
            try Self.checkpoint(directory).save(Self.state)
            func refusal(_ other: JobTrainingCheckpoint) -> String? {
                if case .refused(let reason) = JobTrainingCheckpoint.start(found: .success(try! TrainingCheckpoint.read(path: Self.checkpoint(directory).path)),
                                                                           expected: other.fingerprint) { return reason }
                return nil
            }
            #expect(refusal(Self.checkpoint(directory, job: "job-b"))?.contains("job job-a, not job job-b") == true)
            #expect(refusal(Self.checkpoint(directory, fit: .calibration)) != nil, "the final fit's state continued the calibration fit")
            // A calibration fit from zero (a job's, before it followed the final fit) never continues one from the final fit's weights.
            let cold = JobTrainingCheckpoint(directory: directory, fit: .calibration, job: "job-a", train: Self.train, identity: "set-1", rows: 5_000,
                                             classCount: 3, dimension: 2, blockRows: 1024)
            let warm = JobTrainingCheckpoint(directory: directory, fit: .calibration, afterFinalFit: true, job: "job-a", train: Self.train, identity: "set-1",
                                             rows: 5_000, classCount: 3, dimension: 2, blockRows: 1024)
            #expect(cold.path == warm.path && cold.fingerprint.difference(from: warm.fingerprint) != nil)
            var longer = Self.train
            longer.settings.optimizer.maxIterations = 41
            #expect(refusal(Self.checkpoint(directory, train: longer))?.contains("training settings differ") == true)
            #expect(refusal(Self.checkpoint(directory, identity: "set-2"))?.contains("shard files differ") == true)
            // `train --distributed`'s checkpoints carry no job: neither continues the other.
            var distributed = Self.checkpoint(directory).fingerprint
            distributed.job = nil
            distributed.settingsSHA256 = nil
            #expect(JobTrainingCheckpoint.start(found: .success(TrainingCheckpoint(fingerprint: distributed, state: Self.state)),
                                                expected: Self.checkpoint(directory).fingerprint) != .resume(Self.state))
            #expect(TrainingCheckpoint(fingerprint: Self.checkpoint(directory).fingerprint, state: Self.state).fingerprint.difference(from: distributed)?
                .contains("`train --distributed`") == true)
        }
    }

    @Test func aDamagedCheckpointIsRefusedAndWhatAKilledWriterLeftIsRemoved() throws {
        try withTemporaryDirectory("job-checkpoint") { directory in
            let checkpoint = Self.checkpoint(directory)
            try checkpoint.save(Self.state)
            var bytes = [UInt8](FileManager.default.contents(atPath: checkpoint.path)!)
            bytes[bytes.count / 2] ^= 1
            _ = FileManager.default.createFile(atPath: checkpoint.path, contents: Data(bytes))
            guard case .refused(let reason) = checkpoint.load() else { Issue.record("a damaged checkpoint was used"); return }
            #expect(reason.contains("checksum"), "\(reason)")

            // A temporary of a writer that no longer runs (a coordinator killed mid-write) goes; the checkpoint is the previous one.
            let exited = Process()
            exited.executableURL = URL(fileURLWithPath: "/bin/true")
            try exited.run()
            exited.waitUntilExit()
            let leftover = directory + "/.final-fit.checkpoint.tmp-\(exited.processIdentifier)-1"
            _ = FileManager.default.createFile(atPath: leftover, contents: Data([1, 2, 3]))
            try checkpoint.save(Self.state)
            #expect(checkpoint.load() == .resume(Self.state))
            #expect(!FileManager.default.fileExists(atPath: leftover))
        }
    }

    /// A `train --distributed` checkpoint's file is what it was before jobs kept checkpoints: no job fields in its header.
    @Test func aDistributedTrainingCheckpointHasNoJobFields() {
        let fingerprint = TrainingCheckpoint.Fingerprint(shardSHA256: ["x"], rows: 1, classCount: 1, dimension: 1, l2: 0, classWeighting: "none",
                                                         blockRows: 1024, historySize: 10)
        let bytes = TrainingCheckpoint(fingerprint: fingerprint, state: Self.state).encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("\"job\"") && !text.contains("settingsSHA256"))
    }
}
