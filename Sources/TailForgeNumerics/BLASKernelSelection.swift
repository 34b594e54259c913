#if canImport(Glibc)
import Glibc
#endif

/// Picks OpenBLAS's kernel family when its own CPU detection falls short.
///
/// OpenBLAS 0.3.21 (Debian 12) does not know recent Xeon models (e.g. family 6 model 207) and falls back to
/// its "Prescott" SSE3 kernels, 5–10× slower than the AVX-512 ones the CPU supports. The kernel is chosen
/// when the library loads, before `main`, and only `OPENBLAS_CORETYPE` in the environment changes it — so a
/// program re-executes itself once with the variable set. A user's own `OPENBLAS_CORETYPE` always wins, and
/// `TAILFORGE_BLAS_AUTOSELECT=0` turns this off.
public enum BLASKernelSelection {
    /// The kernel family this CPU's instruction-set flags support, if better than what OpenBLAS picked.
    public static func betterCoreType(detected: String = BLAS.coreName, cpuFlags: Set<String> = cpuFlags()) -> String? {
        let fallbacks: Set<String> = ["prescott", "core2", "atom", "nehalem", "unknown", "generic"]
        guard fallbacks.contains(detected.lowercased()) else { return nil }
        if cpuFlags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        if cpuFlags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// Re-executes the current program with `OPENBLAS_CORETYPE` set when that gives a faster kernel; returns
    /// only when nothing is to be done (or the re-exec failed, in which case the program carries on as is).
    public static func reexecIfBeneficial() {
        guard getenv("OPENBLAS_CORETYPE") == nil else { return }
        if let flag = getenv("TAILFORGE_BLAS_AUTOSELECT"), String(cString: flag) == "0" { return }
        guard let core = betterCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        var path = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &path, path.count - 1)
        guard n > 0 else { return }
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv(path, arguments)
        // execv returns only on failure: keep running with the detected kernel.
        unsetenv("OPENBLAS_CORETYPE")
    }

    /// The instruction-set flags of the first CPU in /proc/cpuinfo (empty where there is none).
    public static func cpuFlags() -> Set<String> {
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                let flags = text.split(separator: ":", maxSplits: 1).last ?? ""
                return Set(flags.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
            }
        }
        return []
    }
}
