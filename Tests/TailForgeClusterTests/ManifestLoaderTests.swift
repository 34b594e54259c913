import Foundation
import TailForgeTestSupport
import Testing
import TailForgeEngine
import Yams
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

/// Manifest files: snake_case keys only, unknown keys refused with a suggestion, every value range-checked,
/// errors as sentences naming the file, line, key and allowed values; the shipped manifests and the JSON Schema
/// agree with the loader.
@Suite struct ManifestLoaderTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let jobsDirectory = (packageRoot as NSString).appendingPathComponent("jobs")

    static let valid = """
        name: t
        input:
          path: in.h5
        output: out.h5
        policy:
          seed: 3
        sharding:
          shards: 4
          max_attempts: 2
          shard_timeout_seconds: 60
        transfer:
          stream_input: true
        """

    func load(_ text: String) throws(ManifestError) -> JobManifest {
        try ManifestLoader.parse(text, source: "/jobs/t.yaml", baseDirectory: "/jobs")
    }

    func refusal(_ text: String) -> ManifestError? {
        do { _ = try load(text); return nil } catch { return error }
    }

    @Test func everyShippedManifestLoads() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.jobsDirectory).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for file in files {
            let manifest = try ManifestLoader.load(path: (Self.jobsDirectory as NSString).appendingPathComponent(file))
            #expect(manifest.input.path.hasPrefix(Self.packageRoot + "/data/"), "\(file)")
            #expect(manifest.sharding.maxAttempts == 3 && manifest.sharding.shardTimeoutSeconds != nil, "\(file): snake_case keys read")
        }
    }

    /// The manifests the READMEs show (```yaml blocks with an `input:`), with where each starts.
    static func documentedManifests() throws -> [(source: String, text: String)] {
        try ["README.md", "cluster/README.md"].flatMap { document -> [(source: String, text: String)] in
            let lines = try String(contentsOfFile: (packageRoot as NSString).appendingPathComponent(document), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false)
            var blocks: [(source: String, text: String)] = [], block: [Substring]?, start = 0
            for (index, line) in lines.enumerated() {
                if block == nil, line.trimmingCharacters(in: .whitespaces) == "```yaml" {
                    block = []
                    start = index + 2
                } else if let body = block, line.trimmingCharacters(in: .whitespaces) == "```" {
                    if body.contains(where: { $0.hasPrefix("input:") }) { blocks.append(("\(document):\(start)", body.joined(separator: "\n"))) }
                    block = nil
                } else {
                    block?.append(line)
                }
            }
            return blocks
        }
    }

    /// Users copy the READMEs' example manifests: each must load as it stands, and a misspelt key in one is refused.
    @Test func everyManifestTheREADMEsShowLoads() throws {
        let documented = try Self.documentedManifests()
        #expect(documented.count >= 2, "the job-manifest and jobs-that-train examples in cluster/README.md")
        for (source, text) in documented {
            #expect(throws: Never.self, "\(source)") { try ManifestLoader.parse(text, source: source, baseDirectory: Self.jobsDirectory) }
        }
        let planted = try #require(documented.first).text.replacingOccurrences(of: "policy:", with: "polcy:")
        #expect(throws: ManifestError.self) { try ManifestLoader.parse(planted, source: "planted", baseDirectory: Self.jobsDirectory) }
    }

    @Test func aValidManifestReadsEveryKeyAndResolvesPathsAgainstItsDirectory() throws {
        let manifest = try load(Self.valid)
        #expect(manifest.input.path == "/jobs/in.h5" && manifest.output == "/jobs/out.h5")
        #expect(manifest.policy.seed == 3 && manifest.sharding == .init(shards: 4, maxAttempts: 2, shardTimeoutSeconds: 60))
        #expect(manifest.transfer.streamInput == true)
        // JSON is YAML too.
        let json = try load(#"{"$schema": "manifest.schema.json", "input": {"path": "/d/in.h5"}, "output": "o.h5", "policy": {"target": 1000, "sampler": "smote"}}"#)
        #expect(json.policy.target == .count(1000) && json.policy.sampler == .smote && json.output == "/jobs/o.h5")
    }

    static let misspelt: [(String, String, String)] = [
        ("policy:\n  samplr: smote", "`policy.samplr` is not a manifest key. Did you mean `sampler`?", "line 5"),
        ("policy:\n  kapa_min: 5", "Did you mean `kappa_min`?", "line 5"),
        ("polcy:\n  seed: 7", "`polcy` is not a manifest key. Did you mean `policy`?", "line 4"),
        ("sharding:\n  maxAttempts: 2", "Did you mean `max_attempts`? Manifest keys are snake_case.", "line 5"),
        ("transfer:\n  streamInput: true", "Did you mean `stream_input`?", "line 5"),
        ("seed: 4", "`seed` belongs in the `policy:` section.", "line 4"),
        ("layuot: compact", "`layuot` is not a manifest key. Did you mean `layout`?", "line 4"),
        ("verfy: spot", "`verfy` is not a manifest key. Did you mean `verify`?", "line 4"),
        ("publsh: virtual", "`publsh` is not a manifest key. Did you mean `publish`?", "line 4"),
        ("frobnicate: 1", "The keys at the top level are `name`, `input`, `output`", "line 4"),
        ("train:\n  traner: local1", "`train.traner` is not a manifest key. Did you mean `trainer`?", "line 5"),
        ("train:\n  max_iter: 50", "`train.max_iter` is not a manifest key. Did you mean `max_iterations`? (`train:` spells `tailforge train`'s flags out in full)", "line 5"),
        ("train:\n  tol: 1e-6", "Did you mean `tolerance`?", "line 5"),
        ("train:\n  class_weights: balanced", "Did you mean `class_weight`?", "line 5"),
        ("trian:\n  l2: 1", "Did you mean `train`?", "line 4"),
        ("l2: 0.001", "`l2` belongs in the `train:` section.", "line 4"),
        ("train:\n  calibrat: true", "`train.calibrat` is not a manifest key. Did you mean `calibrate`?", "line 5"),
        ("train:\n  calibrate: true\n  calibration-holdout: 0.3", "Did you mean `calibration_holdout`? Manifest keys are snake_case", "line 6"),
        ("calibrate: true", "`calibrate` belongs in the `train:` section.", "line 4"),
        ("train:\n  l2: auto\n  l2_grd: [1e-3]", "`train.l2_grd` is not a manifest key. Did you mean `l2_grid`?", "line 6"),
        ("train:\n  l2: auto\n  l2-grid: 1e-3", "Did you mean `l2_grid`? Manifest keys are snake_case", "line 6"),
        ("l2_grid: [1e-3]", "`l2_grid` belongs in the `train:` section.", "line 4"),
        ("train:\n  l2: aut", "`train.l2` is `aut`; it must be a number from 0 to 1e6, or `auto` to choose λ on held-out real rows — did you mean `auto`?", "line 5"),
        ("train:\n  l2: Auto", "did you mean `auto`?", "line 5"),
    ]

    @Test func publishIsCopyUnlessTheManifestAsksForVirtual() throws {
        #expect(try load(Self.valid).publish == nil && load(Self.valid).publishMode == .copy)
        #expect(try load(Self.valid + "\npublish: virtual").publishMode == .virtual)
        #expect(try load(Self.valid + "\npublish: copy").publishMode == .copy)
        // A job that trains may publish its full balanced set virtually.
        let trains = try load("input:\n  path: in.h5\noutput: model.h5\nlayout: full\npublish: virtual\ntrain:\n  balanced_output: b.h5\n")
        #expect(trains.publishMode == .virtual && trains.outputLayout == .full)
    }

    @Test func verifyIsNoneUnlessTheManifestAsksForSpot() throws {
        #expect(try load(Self.valid).verify == nil)
        #expect(try load(Self.valid + "\nverify: spot").verify == .spot)
        #expect(try load(Self.valid + "\nverify: none").verify == VerifyMode.none)
    }

    @Test(arguments: misspelt)
    func anUnknownKeyIsRefusedWithTheFileLineAndTheNearestKey(_ yaml: String, _ message: String, _ line: String) throws {
        let text = "input:\n  path: in.h5\noutput: out.h5\n" + yaml
        let error = try #require(refusal(text))
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix("/jobs/t.yaml, \(line): "), "\(error)")
    }

    static let badValues: [(String, String)] = [
        ("sharding:\n  shard_timeout_seconds: 1e300", "`sharding.shard_timeout_seconds` is 1e+300; it must be a number of seconds from 0.1 to 2592000"),
        ("sharding:\n  shard_timeout_seconds: .inf", "it must be a number of seconds from 0.1 to 2592000"),
        ("sharding:\n  shard_timeout_seconds: 0", "`sharding.shard_timeout_seconds` is 0.0; it must be a number of seconds from 0.1"),
        ("sharding:\n  max_attempts: 0", "`sharding.max_attempts` is `0`; it must be an integer from 1 to 100."),
        ("sharding:\n  max_attempts: three", "`sharding.max_attempts` is `three`; it must be an integer from 1 to 100."),
        ("sharding:\n  max_attempts: 2.5", "it must be an integer from 1 to 100"),
        ("sharding:\n  shards: \"8\"", "`sharding.shards` is the quoted string \"8\" (write it without quotes); it must be an integer from 1 to 65536."),
        ("sharding:\n\tshards: 8", "(YAML indents with spaces; a tab cannot start a line)"),
        ("sharding:\n  shards: 0", "`sharding.shards` is `0`; it must be an integer from 1 to 65536."),
        ("sharding:\n  shards: [1, 2]", "`sharding.shards` must be an integer from 1 to 65536, not a list."),
        ("sharding: 4", "`sharding:` must hold indented `key: value` lines (a mapping), not `4`."),
        ("input: data/in.h5", "`input:` must hold indented `key: value` lines (a mapping), not `data/in.h5`. Write `input:` and, indented on the next line, `path: data/in.h5`."),
        ("input:\n  path: in.h5\n  classes: -1", "`input.classes` is `-1`; it must be an integer from 1 to 16777216."),
        ("input:\n  path: in.h5\n  classes: 9223372036854775807", "`input.classes` is `9223372036854775807`"),
        ("input:\n  path: in.h5\n  classes: 99999999999999999999999", "it must be an integer from 1 to 16777216"),
        ("input:\n  path: in.h5\n  sha256: abc", "`input.sha256` is `abc`; it must be 64 hexadecimal digits"),
        ("policy:\n  target: median*1e300", "`policy.target` is `median*1e300`; it must be `median*F` with F a number above 0 and at most 2147483647"),
        ("policy:\n  target: 9223372036854775807", "`policy.target` is `9223372036854775807`; it must be a row count from 1 to 2147483647."),
        ("policy:\n  target: -3", "`policy.target` is `-3`"),
        ("policy:\n  kappa: fixed:0", "`policy.kappa` is `fixed:0`; it must be `fixed:VALUE` with VALUE a number from 0.001 to 10000000000"),
        ("policy:\n  kappa: fixed:5e7", "`policy.kappa` is `fixed:50000000`; it must be a value within [kappa_min, kappa_max] = [1, 1000000]."),
        ("policy:\n  sampler: vmff", "`policy.sampler` is `vmff`; it must be one of vmf, gaussian, smote, none (did you mean `vmf`?)."),
        ("policy:\n  seed: -1", "`policy.seed` is `-1`; it must be an integer from 0 to 18446744073709551615."),
        ("policy:\n  kappa_min: 0", "`policy.kappa_min` is `0`; it must be a number from 0.001 to 10000000000."),
        ("policy:\n  kappa_min: 10\n  kappa_max: 5", "`policy.kappa_max` is `5`; it must be a number from 0.001 to 10000000000, at least kappa_min (10)."),
        ("policy:\n  smote_k: 0", "`policy.smote_k` is `0`; it must be an integer from 1 to 1000."),
        ("policy:\n  smote_k: 100000", "`policy.smote_k` is `100000`; it must be an integer from 1 to 1000."),
        ("policy:\n  kappa_max: 1e400", "`policy.kappa_max` is `1e400`; it must be a number from 0.001 to 10000000000.0, at least kappa_min."),
        ("policy:\n  subsample: maybe", "`policy.subsample` is `maybe`; it must be `true` or `false`."),
        ("transfer:\n  stream_input: 1.5", "`transfer.stream_input` is `1.5`; it must be `true` or `false`."),
        ("overwrite: yes please", "`overwrite` is `yes please`; it must be `true` or `false`."),
        ("layout: compat", "`layout` is `compat`; it must be one of full, compact (did you mean `compact`?)."),
        ("publish: virtul", "`publish` is `virtul`; it must be one of copy, virtual — did you mean `virtual`? (copy: one self-contained file;"),
        ("publish: link", "`publish` is `link`; it must be one of copy, virtual (copy:"),
        ("publish: [virtual]", "`publish` must be `copy` or `virtual`, not a list."),
        ("layout: compact\npublish: virtual", "`publish: virtual` maps the full layout's rows, but this job's balanced set is compact; set `layout: full`, or remove `publish`"),
        ("train: {}\npublish: virtual", "`publish: virtual` maps the full layout's rows, but this job's balanced set is not published; add `train.balanced_output` and `layout: full`"),
        ("verify: spto", "`verify` is `spto`; it must be one of none, spot (did you mean `spot`?) (spot: recompute a sample of the shards on other workers and compare)."),
        ("verify: true", "`verify` is `true`; it must be one of none, spot"),
        ("verify: [spot]", "`verify` must be `none` or `spot`, not a list."),
        ("output: in.h5", "`output` is the input file /jobs/in.h5"),
        ("output:", "`output` is missing"),
        ("train:\n  l2: -1", "`train.l2` is -1.0; it must be a number from 0 to 1e6"),
        ("train:\n  l2: 1e7", "`train.l2` is 10000000.0; it must be a number from 0 to 1e6"),
        ("train:\n  max_iterations: -5", "`train.max_iterations` is `-5`; it must be an integer from 0 to 1000000."),
        ("train:\n  tolerance: 1", "`train.tolerance` is 1.0; it must be a fraction from 0 to below 1 of the initial gradient norm."),
        ("train:\n  loss_tolerance: -0.1", "`train.loss_tolerance` is -0.1; it must be a relative decrease from 0 to below 1."),
        ("train:\n  class_weight: balance", "`train.class_weight` is `balance`; it must be one of none, balanced (did you mean `balanced`?)."),
        ("train:\n  balanced_output: out.h5", "`train.balanced_output` is the job's model output"),
        ("train:\n  balanced_output: in.h5", "`train.balanced_output` is the job's input"),
        ("train: 5", "`train:` must hold indented `key: value` lines (a mapping), not `5`."),
        ("train:\n  calibrate: true\n  calibration_holdout: 0.9", "`train.calibration_holdout` is 0.9; it must be a fraction of each class's real rows from 0.05 to 0.5."),
        ("train:\n  calibrate: true\n  calibration_holdout: 0.01", "`train.calibration_holdout` is 0.01; it must be a fraction of each class's real rows from 0.05 to 0.5."),
        ("train:\n  calibration_holdout: 0.3", "`train.calibration_holdout` applies only with `calibrate: true` or `l2: auto` (as `--calibration-holdout` only with `train --calibrate` or `--l2 auto`); add one of them or remove it."),
        ("train:\n  l2: 0.001\n  l2_grid: [1e-3, 1e-5]", "`train.l2_grid` lists the candidates of `l2: auto` (as `--l2-grid` those of `train --l2 auto`); write `l2: auto`, or remove `l2_grid`"),
        ("train:\n  l2_grid: 1e-3", "`train.l2_grid` lists the candidates of `l2: auto`"),
        ("train:\n  l2: auto\n  l2_grid: []", "`train.l2_grid` is `[]`; it must be a comma-separated list of λ values"),
        ("train:\n  l2: auto\n  l2_grid: [1e-3, 1e-5, 1e-3]", "`train.l2_grid` is `[1e-3, 1e-5, 1e-3]`; it must be each λ once (1e-3 is given twice)."),
        ("train:\n  l2: auto\n  l2_grid: [1e-3, -1]", "`train.l2_grid` is `[1e-3, -1]`; it must be comma-separated numbers from 0 to 1e6 ('-1' is not one)"),
        ("train:\n  l2: auto\n  l2_grid: [1e-3, 2e6]", "'2e6' is not one"),
        ("train:\n  l2: auto\n  l2_grid: '1e-3;1e-5'", "`train.l2_grid` is the quoted string \"1e-3;1e-5\" (write it without quotes); it must be comma-separated numbers"),
        ("train:\n  l2: auto\n  l2_grid: [1e-3, [1e-5]]", "`train.l2_grid` must list plain numbers such as `[1e-4, 1e-5, 1e-6]`; a list is not one."),
        ("train:\n  l2: auto\n  l2_grid: {a: 1}", "`train.l2_grid` must be a list of numbers such as `[1e-4, 1e-5, 1e-6]`, not a mapping."),
        ("train:\n  l2: auto\n  l2_grid: ['1e-3', 1e-5]", "must list plain numbers"),
        ("train:\n  l2: [auto]", "`train.l2` must be a number from 0 to 1e6, or `auto`, not a list."),
        ("train:\n  calibrate: false\n  calibration_seed: 3", "`train.calibration_seed` applies only with `calibrate: true`"),
        ("train:\n  trainer: \"\"", "`train.trainer` is empty; give a value or leave the key out."),
        ("train:\n  trainer: \"  \"", "`train.trainer` is empty; name a worker (its `tailforge worker --name`)"),
        ("train:\n  trainer: [a, b]", "`train.trainer`"),
        ("train:\n  calibrate: yes please", "`train.calibrate` is `yes please`; it must be `true` or `false`."),
        ("train:\n  calibrate: true\n  calibration_seed: -1", "`train.calibration_seed` is `-1`; it must be an integer ≥ 0"),
        ("input:\n  sha256: \(String(repeating: "a", count: 64))", "`input.path` is missing"),
    ]

    @Test(arguments: badValues)
    func everyValueIsRangeCheckedWithASentence(_ yaml: String, _ message: String) throws {
        // Later keys replace the defaults below, so each case can override input or output.
        var lines = ["input:\n  path: in.h5", "output: out.h5"]
        if yaml.hasPrefix("input:") { lines[0] = yaml } else if yaml.hasPrefix("output:") { lines[1] = yaml } else { lines.append(yaml) }
        let error = try #require(refusal(lines.joined(separator: "\n")), "accepted: \(yaml)")
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix("/jobs/t.yaml"))
        #expect(!error.description.contains("DecodingError") && !error.description.contains("typeMismatch"))
    }

    @Test func aTrainSectionReadsTrainsSettingsAndMakesTheJobCompact() throws {
        let manifest = try load("input:\n  path: in.h5\noutput: model.h5\ntrain:\n  l2: 0.01\n  max_iterations: 40\n  tolerance: 1e-6\n"
            + "  loss_tolerance: 0\n  class_weight: balanced\n  balanced_output: b/balanced.h5")
        let train = try #require(manifest.train)
        #expect(train.settings == TrainingSettings(l2: 0.01, optimizer: LBFGSSettings(maxIterations: 40, gradientTolerance: 1e-6, lossTolerance: 0),
                                                   classWeighting: .balanced))
        #expect(train.balancedOutput == "/jobs/b/balanced.h5" && train.balancedName == "balanced.h5")
        #expect(manifest.outputLayout == .compact && manifest.balancedOutput == "/jobs/b/balanced.h5")
        let empty = try load("input:\n  path: in.h5\noutput: model.h5\ntrain:\nlayout: full")
        #expect(empty.train == JobManifest.Train() && empty.train?.balancedName == "balanced.h5")
        #expect(empty.outputLayout == .compact && empty.balancedOutput == nil, "no balanced file is published: only the recipe is kept")
        #expect(try load(Self.valid).outputLayout == .full && load(Self.valid).train == nil)
        #expect(try JSONDecoder().decode(JobManifest.self, from: JSONEncoder().encode(manifest)) == manifest)
        #expect(train.calibration == nil)

        // `calibrate: true` is `train --calibrate`, with its defaults unless the two settings are given.
        let calibrated = try load("input:\n  path: in.h5\noutput: model.h5\ntrain:\n  calibrate: true\n  calibration_holdout: 0.3\n  calibration_seed: 9")
        #expect(calibrated.train?.calibration == CalibrationSettings(holdOutFraction: 0.3, seed: 9))
        #expect(try load("input:\n  path: in.h5\noutput: model.h5\ntrain:\n  calibrate: true").train?.calibration == CalibrationSettings())
        #expect(try JSONDecoder().decode(JobManifest.self, from: JSONEncoder().encode(calibrated)) == calibrated)
        // An uncalibrated job's encoding has no calibration keys (its resolved manifests seal as before).
        #expect(!(String(decoding: try JSONEncoder().encode(manifest), as: UTF8.self).contains("calibrat")))

        // `trainer: NAME` names the worker that drives L-BFGS; left out, the coordinator does (and the encoding has no key).
        #expect(train.trainer == nil)
        #expect(!(String(decoding: try JSONEncoder().encode(manifest), as: UTF8.self).contains("trainer")))
        let named = try load("input:\n  path: in.h5\noutput: model.h5\ntrain:\n  trainer: gpu-box-2")
        #expect(named.train?.trainer == "gpu-box-2")
        #expect(try JSONDecoder().decode(JobManifest.self, from: JSONEncoder().encode(named)) == named)
    }

    @Test func l2AutoIsTrainsL2AutoWithItsGridAndHoldOut() throws {
        let prefix = "input:\n  path: in.h5\noutput: model.h5\ntrain:\n"
        // Without `calibrate`, τ stays 0 (`train --l2 auto`); the default grid, hold-out and seed unless given.
        let searched = try #require(try load(prefix + "  l2: auto").train)
        #expect(searched.calibration == .l2SearchOnly())
        #expect(searched.settings.l2 == CalibrationSettings.standardL2Grid[0], "the grid's first candidate, as train --l2 auto has it")
        // `calibrate: true` searches τ with λ; a grid in any order, as a list or as --l2-grid's text, is searched largest first.
        let both = try #require(try load(prefix + "  l2: auto\n  l2_grid: [1e-6, 1e-3, 3e-5]\n  calibrate: true\n  calibration_holdout: 0.3\n  calibration_seed: 9").train)
        #expect(both.calibration == CalibrationSettings(holdOutFraction: 0.3, seed: 9, l2Grid: [1e-3, 3e-5, 1e-6]))
        #expect(both.settings.l2 == 1e-3)
        let text = try #require(try load(prefix + "  l2: auto\n  l2_grid: 1e-6, 1e-3,3e-5\n  calibration_seed: 2").train)
        #expect(text.calibration == .l2SearchOnly(seed: 2, l2Grid: [1e-3, 3e-5, 1e-6]))
        // The wire and journal encoding says `auto` and carries the grid; it reads back the same, and a fixed λ's
        // encoding has neither key (its resolved manifests seal as before).
        for train in [searched, both, text] {
            let manifest = JobManifest(input: .init(path: "/in.h5"), output: "/model.h5", train: train)
            let encoded = try JSONEncoder().encode(manifest)
            #expect(try JSONDecoder().decode(JobManifest.self, from: encoded) == manifest)
            let section = try #require((try JSONSerialization.jsonObject(with: encoded) as? [String: Any])?["train"] as? [String: Any])
            #expect(section["l2"] as? String == "auto" && (section["l2_grid"] as? [Double]) == train.calibration?.l2Grid)
            #expect((section["calibrate"] != nil) == (train.calibration?.tauGrid == CalibrationSettings.standardGrid))
        }
        let fixed = JobManifest(input: .init(path: "/in.h5"), output: "/model.h5", train: .init(calibration: CalibrationSettings()))
        #expect(!(String(decoding: try JSONEncoder().encode(fixed), as: UTF8.self).contains("l2_grid")))
    }

    @Test func emptyRepeatedAndMalformedManifestsAreRefusedWithASentence() throws {
        #expect(refusal("")?.reason.contains("is empty; a manifest needs at least") == true)
        #expect(refusal("- a\n- b")?.reason.contains("a manifest must be a mapping of keys to values") == true)
        #expect(refusal("input:\n  path: in.h5\noutput: a.h5\noutput: b.h5")?.description == "/jobs/t.yaml, line 3: `output` appears more than once in one mapping; keep one.")
        #expect(refusal("input:\n  path: in.h5\noutput: a.h5\npolicy:\n  seed: 1\n  seed: 2")?.description.hasPrefix("/jobs/t.yaml, line 5: `seed` appears more than once") == true)
        let broken = refusal("input: {path: [")
        #expect(broken?.reason.hasPrefix("is not valid YAML or JSON: ") == true && broken?.line == 2, "\(String(describing: broken))")
        let missing = "/nonexistent-\(UUID().uuidString).yaml"
        #expect(throws: ManifestError.self) { try ManifestLoader.load(path: missing) }
        do { _ = try ManifestLoader.load(path: missing) } catch { #expect(error.reason.contains("does not exist")) }
    }

    @Test func theWireAndJournalEncodingUsesTheManifestKeysAndStillReadsTheOldSpelling() throws {
        let full = JobManifest(name: "n", input: .init(path: "/i.h5", sha256: String(repeating: "0", count: 64), embeddingsDataset: "e", labelsDataset: "l",
                                                      classNamesDataset: "c", classes: 3),
                               output: "/o.h5", overwrite: true, policy: BalanceSettings(seed: 9, driftGuard: 0.6, driftRetries: 4),
                               sharding: .init(shards: 2, maxAttempts: 4, shardTimeoutSeconds: 5),
                               transfer: .init(streamInput: true, sharedShardDirectory: "/s"), layout: .compact,
                               train: .init(settings: TrainingSettings(l2: 1e-3), balancedOutput: "/b.h5",
                                            calibration: CalibrationSettings(holdOutFraction: 0.3, seed: 7, l2Grid: [1e-3, 1e-5]), trainer: "node2"),
                               verify: .spot, publish: .virtual)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(full)) as? [String: Any])
        #expect(Set(object.keys) == Set(ManifestKeys.topLevel))
        for (section, keys) in ManifestKeys.sections {
            #expect(Set((object[section] as? [String: Any])?.keys ?? [:].keys) == Set(keys), "\(section)")
        }
        #expect(try JSONDecoder().decode(JobManifest.self, from: JSONEncoder().encode(full)) == full)
        let legacy = #"{"input": {"path": "/i.h5", "classNames": ""}, "output": "/o.h5", "sharding": {"maxAttempts": 5, "shardTimeoutSeconds": 7}, "transfer": {"streamInput": true, "sharedShardDirectory": "/s"}}"#
        let old = try JSONDecoder().decode(JobManifest.self, from: Data(legacy.utf8))
        #expect(old.sharding == .init(maxAttempts: 5, shardTimeoutSeconds: 7) && old.transfer == .init(streamInput: true, sharedShardDirectory: "/s"))
        #expect(old.input.classNamesDataset == "" && old.input.spec().classNamesDataset == nil)
    }

    @Test func theDriftGuardIsReadFromThePolicy() throws {
        let on = try load("input:\n  path: in.h5\noutput: o.h5\npolicy:\n  drift_guard: true\n  drift_retries: 4\n")
        #expect(on.policy.driftGuard == BalanceSettings.defaultDriftThreshold && on.policy.driftRetries == 4)
        let threshold = try load("input:\n  path: in.h5\noutput: o.h5\npolicy:\n  drift_guard: true\n  drift_threshold: 0.7\n")
        #expect(threshold.policy.driftGuard == 0.7)
        #expect(refusal("input:\n  path: in.h5\noutput: o.h5\npolicy:\n  drift_threshold: 0.7")?.reason.contains("add `drift_guard: true`") == true)
        #expect(refusal("input:\n  path: in.h5\noutput: o.h5\npolicy:\n  drift_guard: true\n  drift_threshold: 1")?.reason.contains("drift_threshold") == true)
    }

    @Test func theJSONSchemaDescribesExactlyTheLoadersKeys() throws {
        let schemaPath = (Self.jobsDirectory as NSString).appendingPathComponent("manifest.schema.json")
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: schemaPath))) as? [String: Any])
        let properties = try #require(schema["properties"] as? [String: Any])
        #expect(Set(properties.keys) == Set(ManifestKeys.topLevel + [ManifestKeys.schemaReference]))
        #expect(schema["additionalProperties"] as? Bool == false)
        for (section, keys) in ManifestKeys.sections {
            let object = try #require(properties[section] as? [String: Any], "\(section)")
            #expect(Set((object["properties"] as? [String: Any])?.keys ?? [:].keys) == Set(keys), "\(section)")
            #expect(object["additionalProperties"] as? Bool == false, "\(section)")
        }
    }

    /// The shipped manifests validate against the schema, and the schema refuses what the loader refuses
    /// (with python's jsonschema, when it is installed).
    @Test func theSchemaAcceptsTheShippedManifestsAndRefusesTyposWhenJsonschemaIsInstalled() async throws {
        guard await Self.python(["-c", "import jsonschema"]) == 0 else { return }
        try await withTemporaryDirectory("schema") { directory in
            let shipped = try FileManager.default.contentsOfDirectory(atPath: Self.jobsDirectory).filter { $0.hasSuffix(".yaml") }
                .map { try String(contentsOfFile: (Self.jobsDirectory as NSString).appendingPathComponent($0), encoding: .utf8) }
            let typos = [Self.valid + "\n  samplr: vmf", Self.valid.replacingOccurrences(of: "max_attempts", with: "maxAttempts"),
                         Self.valid.replacingOccurrences(of: "60", with: "1e300"), Self.valid.replacingOccurrences(of: "policy:", with: "polcy:")]
            for (index, text) in (shipped + typos).enumerated() {
                // YAML → JSON in Swift, so the check needs only jsonschema.
                let object = try #require(try Yams.load(yaml: text))
                let path = (directory as NSString).appendingPathComponent("\(index).json")
                try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
                let status = await Self.python(["-c", "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
                                          (Self.jobsDirectory as NSString).appendingPathComponent("manifest.schema.json"), path])
                #expect((status == 0) == (index < shipped.count), "document \(index): jsonschema exit \(status)\n\(text)")
                if index >= shipped.count { #expect(refusal(text) != nil, "the loader accepts typo \(index)") }
            }
        }
    }

    static func python(_ arguments: [String]) async -> Int32 {
        (try? await Child.run("/usr/bin/env", ["python3"] + arguments).status) ?? -1
    }
}
