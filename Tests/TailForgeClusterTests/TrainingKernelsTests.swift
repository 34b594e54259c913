import Foundation
import Testing
@testable import TailForgeCluster

/// Which OpenBLAS kernel families a training job's machines run, and when the coordinator warns: a pure value,
/// tested without sockets (the real-process test is in TrainingJobProcessTests).
@Suite struct TrainingKernelsTests {
    @Test func machinesOfOneFamilyAreNotMixed() {
        var kernels = TrainingKernels()
        let steps = [kernels.trainer(TrainingKernels.coordinator, family: "Haswell"), kernels.computed(by: "local0", family: "Haswell"),
                     kernels.computed(by: "local1", family: "HASWELL")]
        #expect(steps == [false, false, false], "OpenBLAS names are case-insensitive")
        #expect(kernels.families == ["Haswell"] && !kernels.isMixed && kernels.warning == nil)
    }

    @Test func aSecondFamilyMixesOnceAndEachNewFamilyReportsAgain() {
        var kernels = TrainingKernels()
        let steps = [kernels.trainer(TrainingKernels.coordinator, family: "SkylakeX"),
                     kernels.computed(by: "local1", family: "SkylakeX"),
                     kernels.computed(by: "local0", family: "Haswell"),     // the mix starts here: log it
                     kernels.computed(by: "local0", family: "Haswell"),     // every later reply of it: nothing new
                     kernels.computed(by: "local2", family: "Haswell"),     // another machine of a family already there
                     kernels.computed(by: "local3", family: "Zen")]         // a third family: log again
        #expect(steps == [false, false, true, false, false, true])
        #expect(kernels.families == ["Haswell", "SkylakeX", "Zen"] && kernels.isMixed)
        #expect(kernels.workers == ["Haswell": ["local0", "local2"], "SkylakeX": ["local1"], "Zen": ["local3"]])
    }

    @Test func theTrainerCountsAsAMachine() {
        var kernels = TrainingKernels()
        kernels.computed(by: "local0", family: "Haswell")
        kernels.computed(by: "local1", family: "Haswell")
        // A named trainer on another family: its model's blas_core differs from the family of every gradient.
        let mixes = kernels.trainer("gpu-box", family: "SkylakeX")
        #expect(mixes)
        #expect(kernels.description == "Haswell: workers local0, local1; SkylakeX: trainer gpu-box")
    }

    @Test func aWorkerOfUnknownFamilyDoesNotMakeAMix() {
        var kernels = TrainingKernels()
        kernels.trainer(TrainingKernels.coordinator, family: "Haswell")
        let mixes = kernels.computed(by: "old", family: TrainingKernels.unknown)
        #expect(!mixes)
        #expect(!kernels.isMixed && kernels.families == ["Haswell"])
        #expect(kernels.description == "Haswell: trainer coordinator; unknown: worker old")
    }

    @Test func theWarningSaysWhoRunsWhatWhyItMattersAndWhatToDo() throws {
        var kernels = TrainingKernels()
        kernels.trainer(TrainingKernels.coordinator, family: "SkylakeX")
        kernels.computed(by: "local0", family: "Haswell")
        kernels.computed(by: "local1", family: "SkylakeX")
        let warning = try #require(kernels.warning)
        #expect(warning.contains("(Haswell: worker local0; SkylakeX: trainer coordinator, worker local1)"))
        #expect(warning.contains("the model's bytes depend on which machine computed which part") && warning.contains("a replay elsewhere"))
        #expect(warning.contains("OPENBLAS_CORETYPE=Haswell in the environment of the coordinator and of every worker daemon"))
        #expect(warning.contains("cluster/README.md, \"Reproducible bytes across machines\""))
    }

    @Test func theRecordRoundTripsAsFamiliesToMachines() throws {
        var kernels = TrainingKernels()
        kernels.trainer(TrainingKernels.coordinator, family: "SkylakeX")
        kernels.computed(by: "local0", family: "Haswell")
        let json = String(decoding: try ResolvedManifest.encoder().encode(kernels), as: UTF8.self)
        #expect(json.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "\n", with: "")
                == #"{"trainers":{"SkylakeX":["coordinator"]},"workers":{"Haswell":["local0"]}}"#)
        #expect(try ResolvedManifest.decoder().decode(TrainingKernels.self, from: Data(json.utf8)) == kernels)
    }

    @Test func theJobStatusCarriesTheWarningOnlyForAMix() {
        func status(_ kernels: TrainingKernels?) -> JobStatus {
            JobStatus(job: "j", name: "j", state: .training, stage: .synthesis, shardsDone: 1, shardCount: 1, classesDone: 1, classCount: 1,
                      rowsWritten: 1, totalRows: 1, workers: 0, elapsedSeconds: 1, output: "/o.h5", error: nil, kernels: kernels)
        }
        let one = TrainingKernels(trainers: ["Haswell": ["coordinator"]], workers: ["Haswell": ["a"]])
        let mixed = TrainingKernels(trainers: ["Haswell": ["coordinator"]], workers: ["SkylakeX": ["a"]])
        #expect(status(nil).kernelWarning == nil && status(one).kernelWarning == nil)
        #expect(status(mixed).kernelWarning == mixed.warning && mixed.warning != nil)
    }
}
