import Testing
@testable import TailForgeCluster

/// What `replay` says when a replayed model differs: whether the OpenBLAS kernel families differ, and what to do.
@Suite struct BLASKernelMismatchTests {
    @Test func theSameFamilyIsNoMismatch() {
        #expect(BLASKernelMismatch.between(recorded: "SkylakeX", replayed: "SkylakeX") == nil)
        #expect(BLASKernelMismatch.between(recorded: "HASWELL", replayed: "Haswell") == nil, "OpenBLAS names are case-insensitive")
    }

    @Test func differentFamiliesNameBothKernelsWhyAndWhatToDo() throws {
        let mismatch = try #require(BLASKernelMismatch.between(recorded: "Haswell", replayed: "SkylakeX"))
        #expect(mismatch.recorded == "Haswell" && mismatch.replayed == "SkylakeX")
        let text = mismatch.description
        #expect(text.contains("trained on OpenBLAS kernel Haswell, this replay on SkylakeX"))
        #expect(text.contains("sgemm rounding differs between OpenBLAS kernel families"))
        #expect(text.contains("replay on a machine of the Haswell family") && text.contains("OPENBLAS_CORETYPE=Haswell"))
    }

    @Test func aRecordWithoutAKernelSaysSo() throws {
        let mismatch = try #require(BLASKernelMismatch.between(recorded: nil, replayed: "SkylakeX"))
        #expect(mismatch.description.contains("does not name its OpenBLAS kernel family"))
        #expect(mismatch.description.contains("this replay trained on SkylakeX") && mismatch.description.contains("OPENBLAS_CORETYPE"))
    }
}

/// `replay` with the resolved manifest's record of every machine's family (`training.kernels`), not only the trainer's.
@Suite struct BLASKernelMismatchMachineTests {
    static let haswellJob = TrainingKernels(trainers: ["Haswell": ["coordinator"]], workers: ["Haswell": ["local0", "local1"]])
    static let mixedJob = TrainingKernels(trainers: ["SkylakeX": ["coordinator"]], workers: ["Haswell": ["local0"], "SkylakeX": ["local1"]])

    @Test func oneFamilyEverywhereOnBothSidesIsNoMismatch() {
        #expect(BLASKernelMismatch.between(recorded: "Haswell", replayed: "Haswell", recordedMachines: Self.haswellJob) == nil)
        #expect(BLASKernelMismatch.between(recorded: "Haswell", replayed: "Haswell", recordedMachines: Self.haswellJob,
                                           replayedMachines: Self.haswellJob) == nil)
    }

    @Test func aRecordedJobOfMixedFamiliesNamesEachMachinesFamilyEvenWhenTheTrainersAgree() throws {
        let mismatch = try #require(BLASKernelMismatch.between(recorded: "SkylakeX", replayed: "SkylakeX", recordedMachines: Self.mixedJob))
        let text = mismatch.description
        #expect(text.contains("the recorded job's machines ran different OpenBLAS kernel families (Haswell: worker local0; SkylakeX: trainer coordinator, worker local1)"))
        #expect(text.contains("depend on which machine computed which part") && text.contains("OPENBLAS_CORETYPE=Haswell"))
        #expect(text.contains("this replay ran on SkylakeX"))
    }

    @Test func aReplayOnMixedMachinesSaysSoAndPinsTheRecordedFamily() throws {
        let mismatch = try #require(BLASKernelMismatch.between(recorded: "Haswell", replayed: "SkylakeX", recordedMachines: Self.haswellJob,
                                                               replayedMachines: Self.mixedJob))
        #expect(mismatch.description.contains("trained on OpenBLAS kernel Haswell (Haswell: trainer coordinator, workers local0, local1), but this replay's machines ran different families (Haswell: worker local0; SkylakeX: trainer coordinator, worker local1)"))
        #expect(mismatch.description.contains("OPENBLAS_CORETYPE=Haswell in the environment of the coordinator and every worker"))
    }

    @Test func differentSingleFamiliesNameTheRecordedMachines() throws {
        let mismatch = try #require(BLASKernelMismatch.between(recorded: "Haswell", replayed: "SkylakeX", recordedMachines: Self.haswellJob))
        #expect(mismatch.description.contains("trained on OpenBLAS kernel Haswell, this replay on SkylakeX; the recorded job's machines: Haswell: trainer coordinator, workers local0, local1"))
    }
}
