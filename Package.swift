// swift-tools-version:6.1
import PackageDescription

// Layers, each importing only those below it:
//   C system libraries (CZeroMQ, CHDF5, COpenBLAS)
//   → numerics (TailForgeNumerics) and storage (TailForgeStorage)
//   → the method (TailForgeEngine: balancing; TailForgeTraining: logistic regression, which reads compact
//     balanced files through the engine)
//   → the cluster runtime (TailForgeCluster)
//   → the thin CLI (`tailforge`) and the benchmark driver (`tailforge-bench`).

let package = Package(
    name: "TailForge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tailforge", targets: ["tailforge"]),
        .executable(name: "tailforge-bench", targets: ["TailForgeBenchmarks"]),
        .executable(name: "tailforge-fuzz", targets: ["TailForgeFuzz"]),
        .library(name: "TailForgeEngine", targets: ["TailForgeEngine"]),
        .library(name: "TailForgeTraining", targets: ["TailForgeTraining"]),
        .library(name: "TailForgeCluster", targets: ["TailForgeCluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Observability: metric values (swift-metrics), their Prometheus text (swift-prometheus), and the one HTTP
        // server per daemon that serves them and the coordinator's status page (Hummingbird, without the
        // swift-configuration trait, which nothing here uses).
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        // Already built for Hummingbird; named for the bound port and the bind error's errno.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // MARK: - C system libraries

        .systemLibrary(
            name: "CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5-serial",
            providers: [.apt(["libhdf5-dev"])]
        ),
        .systemLibrary(
            name: "COpenBLAS",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // The C targets of our own: the signal handler that removes temporary files must be async-signal-safe;
        // libFuzzer's driver entry point has no Swift declaration.
        .target(name: "CTailForgeInterrupt"),
        .target(name: "CTailForgeFuzzer"),
        // The vMF sampler's hot loops (generator, ziggurat box step, dot products), cloned per instruction set and chosen at load time (Swift has
        // no per-function target attribute): a portable binary that still uses AVX-512 where the CPU has it.
        .target(name: "CTailForgeKernels"),
        // HDF5's sec2 file driver with large raw-data writes past the page cache (O_DIRECT): the same bytes, without
        // the kernel's copy of every balanced row (C, because a driver is a table of C callbacks).
        .target(name: "CTailForgeDirectWrite", dependencies: ["CHDF5"]),

        // MARK: - Numerics and storage

        .target(
            name: "TailForgeNumerics",
            dependencies: ["COpenBLAS", "CTailForgeKernels"]
        ),
        .target(
            name: "TailForgeStorage",
            // Numerics for the row normalisation every embeddings read shares; Crypto (BoringSSL, SHA-NI where
            // the CPU has it) for every SHA-256; the interrupt registry for temporary files.
            dependencies: ["CHDF5", "CTailForgeDirectWrite", "TailForgeNumerics", "CTailForgeInterrupt", .product(name: "Crypto", package: "swift-crypto")]
        ),

        // MARK: - The method

        .target(
            name: "TailForgeEngine",
            dependencies: ["TailForgeNumerics", "TailForgeStorage"]
        ),
        .target(
            name: "TailForgeTraining",
            // The engine for reading compact balanced files: their synthetic rows are regenerated on load.
            dependencies: ["TailForgeNumerics", "TailForgeStorage", "TailForgeEngine", "COpenBLAS"]
        ),

        // MARK: - Cluster runtime

        .target(
            name: "TailForgeCluster",
            dependencies: [
                "CZeroMQ",
                "TailForgeNumerics",
                "TailForgeEngine",
                "TailForgeTraining",
                "TailForgeStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The daemons' HTTP listeners (metrics, the status page) on Hummingbird, apart from the runtime so that only
        // the executable links SwiftNIO: with NIO's C modules in a target's build graph, Glibc's `struct stat` and
        // `timespec` are attributed to CDispatch and every target using them would need to import it.
        .target(
            name: "TailForgeObservability",
            dependencies: [
                "TailForgeCluster",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: - Fuzzing

        // The fuzz targets (decoders fed arbitrary bytes) and the mutation engine, as a library so the test suite
        // replays the seed corpus and every crash ever found; `tailforge-fuzz` runs them under libFuzzer
        // (Scripts/fuzz) or, built plainly, once per input file.
        .target(
            name: "TailForgeFuzzTargets",
            dependencies: ["TailForgeCluster", "TailForgeEngine", "TailForgeNumerics", "TailForgeStorage", "TailForgeTraining"]
        ),

        // MARK: - Executables

        .executableTarget(
            name: "tailforge",
            dependencies: [
                "TailForgeNumerics",
                "TailForgeStorage",
                "TailForgeEngine",
                "TailForgeTraining",
                "TailForgeCluster",
                "TailForgeObservability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "TailForgeBenchmarks",
            dependencies: [
                "TailForgeNumerics",
                "TailForgeStorage",
                "TailForgeEngine",
                "TailForgeTraining",
                "TailForgeCluster",
                "COpenBLAS",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .executableTarget(
            name: "TailForgeFuzz",
            dependencies: ["TailForgeFuzzTargets", "CTailForgeFuzzer"]
        ),

        // MARK: - Tests

        // What every test target shares: the temporary directory each test owns and removes (Scripts/test checks
        // that nothing is left in TMPDIR).
        .target(name: "TailForgeTestSupport", path: "Tests/TailForgeTestSupport"),
        .testTarget(name: "TailForgeNumericsTests", dependencies: ["TailForgeNumerics", "CTailForgeKernels"]),
        .testTarget(name: "TailForgeStorageTests", dependencies: ["TailForgeTestSupport", "TailForgeStorage", "TailForgeNumerics", "CHDF5", "CTailForgeDirectWrite"]),
        .testTarget(name: "TailForgeEngineTests", dependencies: ["TailForgeTestSupport", "TailForgeEngine", "TailForgeNumerics", "TailForgeStorage"]),
        .testTarget(name: "TailForgeTrainingTests", dependencies: ["TailForgeTestSupport", "TailForgeTraining", "TailForgeEngine", "TailForgeNumerics", "TailForgeStorage"]),
        // Runs the built `tailforge` executable as a user would: flags, exit statuses, signals.
        .testTarget(
            name: "TailForgeCLITests",
            dependencies: ["TailForgeTestSupport", "TailForgeCluster", "TailForgeEngine", "TailForgeNumerics", "TailForgeStorage", "TailForgeTraining"]
        ),
        .testTarget(
            name: "TailForgeClusterTests",
            dependencies: ["TailForgeTestSupport", "CZeroMQ", "TailForgeCluster", "TailForgeNumerics", "TailForgeEngine", "TailForgeTraining", "TailForgeStorage",
                           .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
                           .product(name: "CoreMetrics", package: "swift-metrics"),
                           "TailForgeFuzzTargets"]
        ),
    ]
)

// MARK: - Language settings for every Swift target

for target in package.targets where [.executable, .test, .regular].contains(target.type) && !target.name.hasPrefix("C") {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
