// `tailforge-bench SUITE [options]`: prints measured figures; see Scripts/benchmark. Each suite lives in its own file;
// `geometry` is no benchmark but exports the generator's hidden parameters for analyses (Scripts/bayes-bound).
import TailForgeNumerics
#if canImport(Glibc)
import Glibc
#endif

let suites: [String: ([String]) async throws -> Void] = [
    "cluster": ClusterBenchmarks.run,
    "job": JobBenchmarks.run,
    "digest": DigestBenchmarks.run,
    "method": MethodBenchmarks.run,
    "mixture": MixtureBenchmarks.run,
    "numerics": NumericsBenchmarks.run,
    "training": TrainingBenchmarks.run,
    "distributed": DistributedTrainingBenchmarks.run,
    "geometry": GeometryExport.run,
]

BLASKernelSelection.reexecIfBeneficial()
BLAS.useOneThread()
let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let suite = suites[name] else {
    let names = suites.keys.sorted().joined(separator: ", ")
    print("usage: tailforge-bench SUITE [options]   (suites: \(names))")
    exit(2)
}
try await suite(Array(arguments.dropFirst()))
