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
