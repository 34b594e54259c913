import ArgumentParser
import TailForgeEngine

/// The balancing policy flags, shared by `balance` and `submit`.
struct BalanceOptions: ParsableArguments {
    @Option(help: "Rows per class after balancing: max (the largest class), a count such as 1000, or median*F.")
    var target: String = "max"

    @Option(help: "How κ is chosen: local (nearest neighbour, default), class (one per class), loo (leave-one-out KDE bandwidth per class), or fixed:VALUE.")
    var kappa: String = "local"

    @Option(help: "Kernel for synthetic samples: vmf (default), gaussian, smote or none.")
    var sampler: String = "vmf"

    @Option(help: "Seed of every random draw; the same input, settings and seed give the same bytes.")
    var seed: UInt64 = 0

    @Option(name: .customLong("kappa-min"), help: "Lower clamp of κ.")
    var kappaMin: Double = BalanceSettings.defaultKappaMin

    @Option(name: .customLong("kappa-max"), help: "Upper clamp of κ (keeps exact duplicates finite).")
    var kappaMax: Double = BalanceSettings.defaultKappaMax

    @Option(name: .customLong("smote-k"), help: "Neighbours the smote sampler interpolates towards.")
    var smoteK: Int = 5

    @Flag(help: "Subsample classes larger than the target down to it (default: keep them whole).")
    var subsample = false

    @Flag(name: .customLong("drift-guard"), help: "Redraw synthetic rows whose class posterior under every class's real-row vMF density is below --drift-threshold.")
    var driftGuard = false

    @Option(name: .customLong("drift-threshold"), help: "The drift guard's minimum class posterior (equal class priors), strictly between 0 and 1.")
    var driftThreshold: Double = BalanceSettings.defaultDriftThreshold

    @Option(name: .customLong("drift-retries"), help: "Redraw rounds for rejected rows; a row rejected every round becomes a copy of its seed row.")
    var driftRetries: Int = BalanceSettings.defaultDriftRetries

    func settings() throws -> BalanceSettings {
        let s = BalanceSettings(
            target: try TargetPolicy(parsing: target), kappa: try KappaPolicy(parsing: kappa),
            sampler: try SamplerKind(parsing: sampler), seed: seed, kappaMin: kappaMin, kappaMax: kappaMax,
            smoteNeighbours: smoteK, subsample: subsample, driftGuard: driftGuard ? driftThreshold : nil, driftRetries: driftRetries)
        try s.validate()
        // Checked even when the guard is off, so a typo in a threshold is not silently ignored.
        try BalanceSettings(driftGuard: driftThreshold, driftRetries: driftRetries).validate()
        return s
    }

    func validate() throws {
        do { _ = try settings() } catch { throw ValidationError("\(error)") }
    }
}

/// The dataset names of a long-tailed input and the class count when it has no class names (`balance`, `submit`).
struct InputDatasetOptions: ParsableArguments {
    @OptionGroup var names: DatasetNameOptions

    @Option(help: "Number of classes when the file has no class names (default: largest label + 1).")
    var classes: Int?

    func validate() throws {
        if let classes, !(1...InputSpec.maximumClassCount).contains(classes) {
            throw ValidationError("--classes must be from 1 to \(InputSpec.maximumClassCount), got \(classes)")
        }
    }

    func spec(path: String) -> InputSpec {
        InputSpec(path: path, embeddingsDataset: names.embeddingsDataset, labelsDataset: names.labelsDataset,
                  classNamesDataset: names.classNamesDataset.isEmpty ? nil : names.classNamesDataset, classCount: classes)
    }
}
