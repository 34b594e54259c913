import Testing
@testable import TailForgeNumerics

@Suite struct BLASKernelSelectionTests {
    static let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd"]

    @Test func misdetectedAVX512MachineGetsSkylakeXKernels() {
        #expect(BLASKernelSelection.betterCoreType(detected: "Prescott", cpuFlags: Self.avx512) == "SkylakeX")
    }

    @Test func avx2MachineGetsHaswellKernels() {
        #expect(BLASKernelSelection.betterCoreType(detected: "Prescott", cpuFlags: ["avx", "avx2", "fma"]) == "Haswell")
    }

    @Test func aCorrectDetectionIsLeftAlone() {
        #expect(BLASKernelSelection.betterCoreType(detected: "SkylakeX", cpuFlags: Self.avx512) == nil)
        #expect(BLASKernelSelection.betterCoreType(detected: "Haswell", cpuFlags: Self.avx512) == nil)
    }

    @Test func oldCPUsKeepTheFallback() {
        #expect(BLASKernelSelection.betterCoreType(detected: "Prescott", cpuFlags: ["sse3"]) == nil)
    }
}
