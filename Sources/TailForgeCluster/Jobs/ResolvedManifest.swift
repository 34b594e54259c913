import Foundation
import TailForgeStorage

/// What a committed job actually did, written next to its output as `OUT.manifest.json`; `tailforge replay`
/// reruns `manifest` and compares the new output with `outputSHA256` and, when recorded, `outputContentSHA256`.
///
/// The top-level keys keep their original camelCase spelling (the file format is a contract); the embedded
/// `manifest` uses the snake_case manifest keys. `manifestSHA256` seals the file: `replay` refuses one whose
/// content was changed after the coordinator wrote it (an edited `shards[]` or `toolVersion`). A seal anyone can
/// recompute; `signature`, the coordinator's Ed25519 signature of the seal, is what an editor cannot forge.
public struct ResolvedManifest: Codable, Sendable, Equatable {
    public struct Shard: Codable, Sendable, Equatable {
        public var index: Int
        public var classes: [Int]
        public var rows: Int
        public var estimatedCost: Double
        public var sha256: String
        public var seconds: Double
        /// Size of the shard file (nil for a shard committed before a coordinator restart).
        public var bytes: Int64?

        public init(index: Int, classes: [Int], rows: Int, estimatedCost: Double, sha256: String, seconds: Double, bytes: Int64? = nil) {
            self.index = index; self.classes = classes; self.rows = rows; self.estimatedCost = estimatedCost
            self.sha256 = sha256; self.seconds = seconds; self.bytes = bytes
        }
    }

    /// What a job with a `train:` section trained: its output (`outputSHA256`) is then the model file.
    public struct Training: Codable, Sendable, Equatable {
        /// The balanced set's identity (`balanced_sha256`), which the model records as its input.
        public var balancedSHA256: String
        /// The published balanced file and its SHA-256, when `train.balanced_output` asked for one.
        public var balancedOutput: String?
        public var balancedOutputSHA256: String?
        /// Global rows `[first, end)` of each part the workers served.
        public var parts: [[Int]]
        public var rows: Int
        public var classes: Int
        public var dimension: Int
        public var iterations: Int
        public var evaluations: Int
        public var finalLoss: Double
        public var gradientNorm: Double
        public var converged: Bool
        public var stopReason: String
        /// Opening the session (the workers regenerating their parts) and the L-BFGS run, in seconds.
        public var openSeconds: Double
        public var trainSeconds: Double
        /// Bytes of training messages the coordinator sent to and received from workers (weights, κ, sums).
        public var networkBytes: Int64?
        /// What `calibrate: true` chose (the model file holds the same), nil for a job without it.
        public var calibration: Calibration?
        /// The iteration the final fit continued from after a coordinator restart (its checkpoint), nil when it ran
        /// from iteration 0 in one coordinator life.
        public var resumedFromIteration: Int?
        /// Seconds the trainer spent writing its per-iteration checkpoints (both fits).
        public var checkpointSeconds: Double?
        /// The OpenBLAS kernel families of the trainer(s) and of the workers whose replies the fit used (the model's
        /// `blas_core` names only the trainer's); nil from coordinators before it was recorded.
        public var kernels: TrainingKernels?

        /// The calibration's outcome: τ (and with `l2: auto` λ), the rows it used, and its fits.
        public struct Calibration: Codable, Sendable, Equatable {
            public var tau: Double
            /// Held-out balanced accuracy at τ (and the chosen λ).
            public var balancedAccuracy: Double
            public var heldOutRows: Int
            public var fitRows: Int
            /// Iterations and seconds of the calibration fits, summed over the λ path with `l2: auto`.
            public var iterations: Int
            public var seconds: Double
            /// The iteration the calibration fit continued from after a coordinator restart, nil for a fresh start.
            public var resumedFromIteration: Int?
            /// With `l2: auto`: the λ chosen (the model's `l2`), and every candidate fitted, in order.
            public var l2: Double?
            public var l2Candidates: [L2Candidate]?
            /// Evaluations of the calibration fits (summed over the λ path); nil in a record written before they were kept.
            public var evaluations: Int?
            /// How the calibration fit at the chosen λ went, as the model's `calibration_fit_*` attributes say: `start`
            /// (`final-fit`, `zero` or `previous-candidate`), its evaluation cap (the final fit's evaluations, when it
            /// started from them), whether it converged and why it stopped (`max-evaluations`: it hit the cap).
            public var start: String?
            public var evaluationCap: Int?
            public var converged: Bool?
            public var stopReason: String?

            /// One λ of the path: its best held-out balanced accuracy over τ (at that τ) and its calibration fit.
            public struct L2Candidate: Codable, Sendable, Equatable {
                public var l2: Double
                public var balancedAccuracy: Double
                public var tau: Double
                public var iterations: Int
                public var seconds: Double
                public init(l2: Double, balancedAccuracy: Double, tau: Double, iterations: Int, seconds: Double) {
                    self.l2 = l2; self.balancedAccuracy = balancedAccuracy; self.tau = tau; self.iterations = iterations; self.seconds = seconds
                }
            }

            public init(tau: Double, balancedAccuracy: Double, heldOutRows: Int, fitRows: Int, iterations: Int, seconds: Double,
                        resumedFromIteration: Int? = nil, l2: Double? = nil, l2Candidates: [L2Candidate]? = nil) {
                self.tau = tau; self.balancedAccuracy = balancedAccuracy; self.heldOutRows = heldOutRows; self.fitRows = fitRows
                self.iterations = iterations; self.seconds = seconds; self.resumedFromIteration = resumedFromIteration
                self.l2 = l2; self.l2Candidates = l2Candidates
            }
        }

        public init(balancedSHA256: String, balancedOutput: String?, balancedOutputSHA256: String?, parts: [[Int]], rows: Int, classes: Int,
                    dimension: Int, iterations: Int, evaluations: Int, finalLoss: Double, gradientNorm: Double, converged: Bool,
                    stopReason: String, openSeconds: Double, trainSeconds: Double, networkBytes: Int64?, calibration: Calibration? = nil,
                    resumedFromIteration: Int? = nil, checkpointSeconds: Double? = nil, kernels: TrainingKernels? = nil) {
            self.balancedSHA256 = balancedSHA256; self.balancedOutput = balancedOutput; self.balancedOutputSHA256 = balancedOutputSHA256
            self.parts = parts; self.rows = rows; self.classes = classes; self.dimension = dimension; self.iterations = iterations
            self.evaluations = evaluations; self.finalLoss = finalLoss; self.gradientNorm = gradientNorm; self.converged = converged
            self.stopReason = stopReason; self.openSeconds = openSeconds; self.trainSeconds = trainSeconds; self.networkBytes = networkBytes
            self.calibration = calibration; self.resumedFromIteration = resumedFromIteration; self.checkpointSeconds = checkpointSeconds
            self.kernels = kernels
        }
    }

    /// The coordinator's signature of `manifestSHA256` (see `signedMessage`).
    public struct Signature: Codable, Sendable, Equatable {
        /// Always `ed25519`; another value is refused, so a later scheme cannot be downgraded to this one silently.
        public var algorithm: String
        /// Fingerprint of the signing public key (`SigningPublicKey.fingerprint`), to name the key in errors.
        public var key: String
        /// The 64-byte signature, base64.
        public var value: String
    }

    /// Spot verification (`verify: spot`): the fraction and seed that chose the shards, each check's workers and
    /// outcome, and the workers caught lying (excluded from the job). Absent for other jobs.
    public struct Verification: Codable, Sendable, Equatable {
        public struct Check: Codable, Sendable, Equatable {
            public var stage: String
            public var shard: Int
            public var workers: [String]
            /// `agreed`, `liar: NAME`, `unverified: no other worker`.
            public var outcome: String
        }
        public var fraction: Double
        public var seed: UInt64
        public var checks: [Check]
        public var excluded: [String]
    }

    public var job: String
    public var toolVersion: String
    public var manifest: JobManifest
    public var inputSHA256: String
    public var outputSHA256: String
    /// SHA-256 of each output dataset's content (`BalancedContentDigest`), independent of HDF5's file layout;
    /// absent from manifests written before content digests existed (the seal still holds: nil is not encoded).
    public var outputContentSHA256: [String: String]?
    public var fallbackKappa: Double?
    public var shards: [Shard]
    public var stageSeconds: [String: Double]
    public var totalSeconds: Double
    public var submitted: Date
    /// A job with a `train:` section: what it trained (absent for a balancing job).
    public var training: Training?
    /// SHA-256 of this file's canonical encoding without this field and `signature`, set by `write(to:)`.
    public var manifestSHA256: String?
    /// Set by `write(to:signingKey:)` when the coordinator has a signing key; absent from earlier releases' files.
    public var signature: Signature?
    public var verification: Verification?

    public init(job: String, toolVersion: String, manifest: JobManifest, inputSHA256: String, outputSHA256: String,
                outputContentSHA256: [String: String]? = nil, fallbackKappa: Double? = nil, shards: [Shard], stageSeconds: [String: Double],
                totalSeconds: Double, submitted: Date, training: Training? = nil, manifestSHA256: String? = nil, signature: Signature? = nil) {
        self.job = job; self.toolVersion = toolVersion; self.manifest = manifest; self.inputSHA256 = inputSHA256
        self.outputSHA256 = outputSHA256; self.outputContentSHA256 = outputContentSHA256; self.fallbackKappa = fallbackKappa
        self.shards = shards; self.stageSeconds = stageSeconds; self.totalSeconds = totalSeconds; self.submitted = submitted
        self.training = training; self.manifestSHA256 = manifestSHA256; self.signature = signature
    }

    /// `OUT.manifest.json` for output `OUT.h5` (the extension is replaced).
    public static func path(forOutput output: String) -> String {
        ((output as NSString).deletingPathExtension) + ".manifest.json"
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// The digest `manifestSHA256` holds: of the canonical encoding (sorted keys, ISO 8601 dates) without the
    /// digest, taken after one decode so values the encoding rounds (dates to seconds) digest as they read back.
    public func contentSHA256() throws -> String {
        var unsealed = self
        unsealed.manifestSHA256 = nil
        unsealed.signature = nil
        let once = try Self.decoder().decode(ResolvedManifest.self, from: Self.encoder().encode(unsealed))
        return SHA256.hexDigest(of: try Self.encoder().encode(once))
    }

    /// What the signature signs: a fixed context string (a signature made for anything else cannot be replayed
    /// here) and the seal, which is the SHA-256 of the whole canonical content.
    static func signedMessage(contentSHA256: String) -> [UInt8] {
        Array("tailforge resolved manifest v1\n".utf8) + Array(contentSHA256.utf8)
    }

    /// The file's bytes: sealed with `manifestSHA256` and, given a key, signed.
    public func sealedJSON(signingKey: SigningKeyPair? = nil) throws -> Data {
        var sealed = self
        let digest = try contentSHA256()
        sealed.manifestSHA256 = digest
        sealed.signature = signingKey.map { key in
            Signature(algorithm: "ed25519", key: key.publicKey.fingerprint,
                      value: Data(key.signature(for: Self.signedMessage(contentSHA256: digest))).base64EncodedString())
        }
        return try Self.encoder().encode(sealed)
    }

    /// Writes the manifest sealed with its `manifestSHA256` and, given the coordinator's key, signed.
    public func write(to path: String, signingKey: SigningKeyPair? = nil) throws {
        try sealedJSON(signingKey: signingKey).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func read(from path: String) throws -> ResolvedManifest {
        try decode(Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Decodes a resolved manifest's bytes (no checks beyond JSON shape: `verify` does those).
    public static func decode(_ data: Data) throws -> ResolvedManifest {
        try decoder().decode(ResolvedManifest.self, from: data)
    }

    /// Checks the coordinator's signature with its public signing key: refuses an unsigned manifest, one signed
    /// by another key, and one whose content (recomputed here, not the recorded seal) is not what was signed.
    public func verifySignature(publicKey: SigningPublicKey, source: String) throws(ManifestError) {
        func refuse(_ reason: String) -> ManifestError { ManifestError(source: source, key: "signature", reason: reason) }
        guard let signature else {
            throw refuse("is not signed, so it cannot be checked against the coordinator's signing key (its coordinator had no signing key, or the signature was removed); replay without --coordinator-signing-key checks its seal only.")
        }
        guard signature.algorithm == "ed25519" else {
            throw refuse("is signed with `\(signature.algorithm)`; this release checks only `ed25519` signatures.")
        }
        guard signature.key == publicKey.fingerprint else {
            throw refuse("was signed by the key with fingerprint \(signature.key), not by the given key (fingerprint \(publicKey.fingerprint)); pass the NAME.sign.pub of the coordinator that wrote it.")
        }
        guard let value = Data(base64Encoded: signature.value), let digest = try? contentSHA256(),
              publicKey.isValidSignature(Array(value), for: Self.signedMessage(contentSHA256: digest)) else {
            throw refuse("does not match its content: the file was changed after the coordinator signed it, or the signature is forged. Restore the original or rerun the job.")
        }
    }

    /// Checks every field a replay relies on before any work: the seal, the tool version, the manifest's
    /// ranges, the digests' form, and that no class is in two of `shards[]`, whose indices, rows and digests must be consistent.
    /// With `signingKey`, the signature is checked right after the seal, before any other field is trusted.
    public func verify(source: String, toolVersion current: String, signingKey: SigningPublicKey? = nil) throws(ManifestError) {
        func refuse(_ key: String?, _ reason: String) -> ManifestError { ManifestError(source: source, key: key, reason: reason) }
        // Before the seal: an unreadable value is the real problem, not the digest it then fails.
        if let problem = manifest.unreadablePolicy { throw refuse("manifest.policy", problem) }
        guard let recorded = manifestSHA256 else {
            throw refuse("manifestSHA256", "has no `manifestSHA256`, so it cannot be checked for edits (it was written by an earlier release or edited); rerun the job to get a replayable manifest.")
        }
        guard let actual = try? contentSHA256(), actual == recorded else {
            throw refuse("manifestSHA256", "was changed after the coordinator wrote it (its content no longer matches `manifestSHA256`); replay needs it exactly as written. Restore the original or rerun the job.")
        }
        if let signingKey { try verifySignature(publicKey: signingKey, source: source) }
        guard toolVersion == current else {
            throw refuse("toolVersion", "was written by TailForge \(toolVersion) and this is TailForge \(current); outputs are only bit-identical within one release, so replay with TailForge \(toolVersion).")
        }
        try manifest.validate(source: source)
        func isDigest(_ text: String) -> Bool { text.count == 64 && text.allSatisfy(\.isHexDigit) }
        for (key, value) in [("inputSHA256", inputSHA256), ("outputSHA256", outputSHA256)] where !isDigest(value) {
            throw refuse(key, "`\(key)` is `\(value)`; it must be 64 hexadecimal digits.")
        }
        if let content = outputContentSHA256, let problem = BalancedContentDigest.problem(in: content) {
            throw refuse("outputContentSHA256", "`outputContentSHA256` \(problem).")
        }
        if let fallbackKappa, !(fallbackKappa.isFinite && fallbackKappa > 0) {
            throw refuse("fallbackKappa", "`fallbackKappa` is \(fallbackKappa); it must be a finite number > 0.")
        }
        guard !shards.isEmpty, JobManifest.Limits.shards.contains(shards.count) else {
            throw refuse("shards", "`shards` has \(shards.count) entries; it must have 1 to \(JobManifest.Limits.shards.upperBound).")
        }
        var seen = Set<Int>()
        for (position, shard) in shards.enumerated() {
            let key = "shards[\(position)]"
            guard shard.index == position else { throw refuse(key, "`\(key).index` is \(shard.index); shards must be listed in order from 0.") }
            guard !shard.classes.isEmpty, shard.classes.allSatisfy({ $0 >= 0 }) else {
                throw refuse(key, "`\(key).classes` must be a non-empty list of class ids ≥ 0.")
            }
            for id in shard.classes where !seen.insert(id).inserted {
                throw refuse(key, "class \(id) appears in more than one shard; the shards must partition the classes.")
            }
            guard shard.rows >= 0, (shard.bytes ?? 0) >= 0 else { throw refuse(key, "`\(key)` has a negative row or byte count.") }
            guard isDigest(shard.sha256) else { throw refuse(key, "`\(key).sha256` is `\(shard.sha256)`; it must be 64 hexadecimal digits.") }
        }
    }
}
