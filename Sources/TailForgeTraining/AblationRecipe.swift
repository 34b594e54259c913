import Foundation
import TailForgeEngine

/// One training set and weighting of `tailforge ablate`'s grid. Each recipe is fitted once with `--calibrate`
/// (the final fit is the uncalibrated model, unchanged), so it gives two rows: raw argmax and logit-adjusted.
///
/// Names: `unweighted`, `class-weight` (the long-tailed file as is), and the balancing policies `vmf-local` (the
/// paper's recipe), `vmf-class`, `vmf-loo`, `gaussian` (local κ), `smote`, each also with `+guard` (the drift
/// guard at its defaults). Class weights on a balanced set are left out: every class already has the same count.
/// `unweighted+l2-auto` and `class-weight+l2-auto` choose λ with τ on the held-out rows (`train --l2 auto
/// --calibrate`); the balanced recipes keep the given λ (a search there costs one fit of the balanced set per
/// candidate). `vmf-mixture` is the generative vMF mixture (`train --classifier vmf-mixture --calibrate`) on the
/// long-tailed file's real rows, its settings and τ chosen by cross-validation; it is never balanced and always
/// fitted on this machine. `vmf-mixture-pool` is the same fit refined by EM over the runner's unlabeled files
/// (`train --classifier vmf-mixture --calibrate --unlabeled POOL.h5`), and `vmf-mixture-transductive` the same refined
/// over the test file's embeddings, never its labels (`train … --transductive TEST.h5`, leave-one-out E-step): the use
/// of a batch classified by a model refined on that batch. Neither is in the default grid (``standard``): the first needs a pool, the second fits with the test
/// file's rows, which a user must ask for.
public struct AblationRecipe: Sendable, Equatable, CustomStringConvertible {
    public enum TrainingSet: Sendable, Equatable {
        case longTailed(ClassWeighting)
        case balanced(sampler: SamplerKind, kappa: KappaPolicy, driftGuard: Bool)
    }

    public var trainingSet: TrainingSet
    /// Whether λ is chosen on the held-out rows (from the runner's λ grid) instead of given.
    public var l2Search: Bool
    /// The model fitted: softmax, or (`vmf-mixture`) the generative vMF mixture on the long-tailed file's real rows.
    public var classifier: ModelType
    /// The unlabeled rows a mixture recipe is refined with by EM (nil: none).
    public var unlabeled: UnlabeledRows?

    /// Where a mixture recipe's unlabeled rows come from.
    public enum UnlabeledRows: Sendable, Equatable {
        /// The runner's unlabeled files (`ablate --unlabeled`).
        case pool
        /// The test file's embeddings, never its labels (transductive).
        case test
    }

    public init(_ trainingSet: TrainingSet, l2Search: Bool = false, classifier: ModelType = .softmax, unlabeled: UnlabeledRows? = nil) {
        self.trainingSet = trainingSet
        self.l2Search = l2Search
        self.classifier = classifier
        self.unlabeled = unlabeled
    }

    /// `vmf-mixture`: `train --classifier vmf-mixture --calibrate` on the long-tailed file.
    public static let vmfMixture = AblationRecipe(.longTailed(.none), classifier: .vmfMixture)
    /// `vmf-mixture-pool`: the same with `--unlabeled` and the runner's pool.
    public static let vmfMixturePool = AblationRecipe(.longTailed(.none), classifier: .vmfMixture, unlabeled: .pool)
    /// `vmf-mixture-transductive`: the same with the test file's embeddings as the pool.
    public static let vmfMixtureTransductive = AblationRecipe(.longTailed(.none), classifier: .vmfMixture, unlabeled: .test)

    /// Every recipe, in table order.
    public static let all: [AblationRecipe] = standard + [vmfMixturePool, vmfMixtureTransductive]

    /// The default grid: every recipe that needs nothing but the training and test files' labelled use.
    public static let standard: [AblationRecipe] = {
        var recipes = [AblationRecipe(.longTailed(.none)), AblationRecipe(.longTailed(.balanced)),
                       AblationRecipe(.longTailed(.none), l2Search: true), AblationRecipe(.longTailed(.balanced), l2Search: true)]
        let policies: [(SamplerKind, KappaPolicy)] = [(.vmf, .local), (.vmf, .classwise), (.vmf, .leaveOneOut), (.gaussian, .local), (.smote, .local)]
        for guarded in [false, true] {
            for (sampler, kappa) in policies { recipes.append(AblationRecipe(.balanced(sampler: sampler, kappa: kappa, driftGuard: guarded))) }
        }
        recipes.append(vmfMixture)
        return recipes
    }()

    public var description: String {
        if classifier == .vmfMixture {
            return switch unlabeled {
            case nil: "vmf-mixture"
            case .pool: "vmf-mixture-pool"
            case .test: "vmf-mixture-transductive"
            }
        }
        let base = switch trainingSet {
        case .longTailed(let weighting): weighting == .balanced ? "class-weight" : "unweighted"
        case .balanced(let sampler, let kappa, let driftGuard):
            (sampler == .vmf ? "vmf-" + kappa.description : sampler.rawValue) + (driftGuard ? "+guard" : "")
        }
        return base + (l2Search ? "+l2-auto" : "")
    }

    /// The recipe named `name` (see the type's documentation).
    public init(parsing name: String) throws(AblationError) {
        let wanted = name.trimmingCharacters(in: .whitespaces).lowercased()
        guard let found = Self.all.first(where: { $0.description == wanted }) else {
            throw .unknownRecipe(name, known: Self.all.map(\.description))
        }
        self = found
    }

    /// The recipes of `ablate --recipes NAMES` (nil: the default grid, ``standard``), with `vmf-mixture-pool` added when
    /// unlabeled files are given and `vmf-mixture-transductive` with `transductive`; naming the pool recipe without a
    /// pool is an error (it would be the plain mixture under another name).
    public static func selection(names: [String]?, pool: Bool, transductive: Bool) throws(AblationError) -> [AblationRecipe] {
        var recipes = standard
        if let names {
            guard !names.isEmpty else { throw .noRecipes }
            recipes = try names.map { name throws(AblationError) in try AblationRecipe(parsing: name) }
        }
        if recipes.contains(vmfMixturePool), !pool { throw .poolRecipeWithoutPool }
        if pool, !recipes.contains(vmfMixturePool) { recipes.append(vmfMixturePool) }
        if transductive, !recipes.contains(vmfMixtureTransductive) { recipes.append(vmfMixtureTransductive) }
        return recipes
    }

    /// The `balance` settings of a balanced recipe (nil for the long-tailed file).
    public func balanceSettings(seed: UInt64) -> BalanceSettings? {
        guard case .balanced(let sampler, let kappa, let driftGuard) = trainingSet else { return nil }
        return BalanceSettings(kappa: kappa, sampler: sampler, seed: seed,
                               driftGuard: driftGuard ? BalanceSettings.defaultDriftThreshold : nil)
    }

    /// The `balance` settings that lay out the set the recipe trains: its balancing, or for the long-tailed file
    /// `sampler: none` — the input's real rows as `balance` writes them (unit length, class-major), no synthetic row.
    /// Every recipe thus trains a balanced-layout file, whether balanced here or by a cluster job that also fits it, so
    /// the models are the same bytes wherever they were fitted. (A long-tailed recipe's model differs from `train
    /// TRAIN.h5`'s only in the order its rows are summed: the same rows, normalised on load there too.)
    public func trainingSetSettings(seed: UInt64) -> BalanceSettings {
        balanceSettings(seed: seed) ?? BalanceSettings(sampler: .none, seed: seed)
    }

    public var classWeighting: ClassWeighting {
        if case .longTailed(let weighting) = trainingSet { return weighting }
        return .none
    }

    /// What the table calls the recipe's two rows.
    public func rowName(calibrated: Bool) -> String {
        if classifier == .vmfMixture {
            let base = switch unlabeled {
            case nil: "generative vMF mixture"
            case .pool: "vMF mixture + pool (EM)"
            case .test: "transductive vMF mixture"
            }
            return base + (calibrated ? " + calibrate" : "")
        }
        return baseRowName(calibrated: calibrated) + (l2Search ? ", λ auto" : "")
    }

    private func baseRowName(calibrated: Bool) -> String {
        switch (trainingSet, calibrated) {
        case (.longTailed(.none), true): "logit adjustment (unweighted + calibrate)"
        case (.longTailed(.none), false): "unweighted"
        case (.longTailed, false): "class weights"
        case (.longTailed, true): "class weights + calibrate"
        case (.balanced, false): description + (description == "vmf-local" ? " (paper)" : "")
        case (.balanced, true): description + " + calibrate"
        }
    }
}
