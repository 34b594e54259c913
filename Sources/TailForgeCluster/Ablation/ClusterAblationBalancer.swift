import Foundation
import Synchronization
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining

/// `tailforge ablate --coordinator`: each recipe is one job on the cluster that balances and fits — the recipe's
/// `balance` settings (`sampler: none` for the long-tailed file, ``AblationRecipe/trainingSetSettings(seed:)``), and
/// a `train:` section with ablate's training settings and `calibrate: true` (with `l2: auto` for `+l2-auto`) —
/// publishing the compact balanced set (`balanced_output`) and writing the model in ablate's work directory: byte
/// for byte what single-node `balance --layout compact` + `train --calibrate` write, so the report is a local
/// run's. All jobs are submitted before the first result is collected: a refusal comes before any work, and the
/// cluster runs later recipes while earlier ones are scored here.
///
/// The coordinator must run this TailForge's version (its workers run the coordinator's, which it enforces):
/// another release may draw or fit other bits, so ``start(_:)`` refuses it unless `allowOtherVersion`.
///
/// Shared-filesystem assumption: the coordinator and its workers read the training file, and the coordinator
/// writes the balanced set, at the absolute paths this machine uses (a shared disk, inside the coordinator's
/// `--data-root`).
public final class ClusterAblationBalancer: AblationBalancer {
    public let coordinator: String
    public let security: SocketSecurity
    /// Seconds the coordinator may stay silent (a restart) while a job is followed; a submission waits at most
    /// this, and at most 10 s, for its answer.
    public let timeoutSeconds: Double
    /// Told each job's id once it was accepted.
    public let submitted: @Sendable (AblationBalancing, String) -> Void
    /// Submit to a coordinator of another TailForge version anyway (`--allow-version-mismatch`).
    public let allowOtherVersion: Bool
    /// The version this run's local fits and reports are made with.
    public let toolVersion: String

    /// A job submitted and not yet collected by `finish`.
    public struct Outstanding: Sendable, Equatable {
        public var balancing: AblationBalancing
        public var job: String
    }
    private struct State {
        var outstanding: [Outstanding] = []
        /// Set once `cancelOutstanding` ran: the jobs it cancelled are not failures to report.
        var abandoned = false
    }
    private let state = Mutex(State())

    public init(coordinator: String, security: SocketSecurity = .plaintext, timeoutSeconds: Double = 120, allowOtherVersion: Bool = false,
                toolVersion: String = ToolVersion.current, submitted: @escaping @Sendable (AblationBalancing, String) -> Void = { _, _ in }) {
        self.coordinator = coordinator
        self.security = security
        self.timeoutSeconds = timeoutSeconds
        self.allowOtherVersion = allowOtherVersion
        self.toolVersion = toolVersion
        self.submitted = submitted
    }

    /// The job that balances and fits `balancing`: paths made absolute, as the coordinator requires; `overwrite`, as
    /// a local re-run replaces the work directory's files too. The balanced set is published under the name a local
    /// run gives it, which the model records. A long-tailed recipe's set is laid out by `sampler: none` (no synthetic
    /// row), and a `+l2-auto` recipe's calibration carries its λ grid (`l2: auto`): every recipe is fitted on the cluster.
    public static func manifest(for balancing: AblationBalancing) -> JobManifest {
        let absolute = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
        return JobManifest(name: "ablate \(balancing.recipe)", input: .init(InputSpec(path: absolute(balancing.input))),
                           output: absolute(balancing.model), overwrite: true, policy: balancing.settings, layout: .compact,
                           train: .init(settings: balancing.training, balancedOutput: absolute(balancing.output),
                                        calibration: balancing.calibration))
    }

    public func start(_ balancings: [AblationBalancing]) async throws {
        guard !balancings.isEmpty else { return }
        do {
            let client: ClusterClient
            do { client = try ClusterClient(coordinator: coordinator, timeoutSeconds: min(10, timeoutSeconds), security: security) } catch {
                throw ClusterAblationError.unreachable(recipe: balancings[0].recipe, coordinator: coordinator, error: error)
            }
            if !allowOtherVersion {
                let theirs: String?
                do { theirs = try client.status().toolVersion } catch {
                    throw ClusterAblationError.unreachable(recipe: balancings[0].recipe, coordinator: coordinator, error: error)
                }
                guard theirs == toolVersion else {
                    throw ClusterAblationError.otherVersion(coordinator: coordinator, theirs: theirs, ours: toolVersion)
                }
            }
            for balancing in balancings {
                let manifest = Self.manifest(for: balancing)
                let job: String
                do { job = try client.submit(manifest) } catch {
                    guard case .rejected(let code, let message) = error, code != "too-many-jobs" else {
                        throw ClusterAblationError.unreachable(recipe: balancing.recipe, coordinator: coordinator, error: error)
                    }
                    throw ClusterAblationError.refused(recipe: balancing.recipe, coordinator: coordinator, reason: message,
                                                       input: manifest.input.path, output: manifest.output)
                }
                state.withLock { $0.outstanding.append(Outstanding(balancing: balancing, job: job)) }
                submitted(balancing, job)
            }
        } catch {
            abandon()
            throw error
        }
    }

    public func finish(_ balancing: AblationBalancing) async throws -> AblationBalanced {
        let (started, abandonedBefore) = state.withLock { ($0.outstanding.first { $0.balancing == balancing }?.job, $0.abandoned) }
        guard let job = started else {
            // Ctrl-C between the submissions and this call: the interrupt's thread took every outstanding job to cancel
            // it and is about to end the process with 130 (this was a precondition failure, a crash with SIGILL).
            guard abandonedBefore else { preconditionFailure("ClusterAblationBalancer.finish: \(balancing.recipe) was not started") }
            try? await Task.sleep(for: .seconds(30))
            throw CancellationError()
        }
        let final: JobStatus
        do {
            final = try ClusterClient.follow(job: job, coordinator: coordinator, timeoutSeconds: timeoutSeconds, security: security, update: { _ in })
        } catch {
            throw ClusterAblationError.lost(recipe: balancing.recipe, coordinator: coordinator, job: job, error: error)
        }
        let abandoned = state.withLock { state in
            state.outstanding.removeAll { $0.job == job }
            return state.abandoned
        }
        if final.state != .committed && abandoned {
            // Ctrl-C: the interrupt's thread cancelled this job and is about to end the process with 130; a
            // "job cancelled" failure from here would race it to exit with 1.
            try? await Task.sleep(for: .seconds(30))
        }
        guard final.state == .committed else {
            throw ClusterAblationError.jobEnded(recipe: balancing.recipe, coordinator: coordinator, job: job, state: final.state, error: final.error)
        }
        let manifest = Self.manifest(for: balancing)
        // The job's record of its fits (beside the model, on the shared disk), and the calibration the model stores.
        let manifestPath = ResolvedManifest.path(forOutput: manifest.output)
        guard let training = (try? ResolvedManifest.read(from: manifestPath))?.training, let calibration = training.calibration,
              let record = (try? SoftmaxModelFile.read(path: manifest.output))?.calibration else {
            throw ClusterAblationError.jobEnded(recipe: balancing.recipe, coordinator: coordinator, job: job, state: final.state,
                                               error: "its resolved manifest \(manifestPath) or model \(manifest.output) records no calibrated training")
        }
        let fitSeconds = training.openSeconds + calibration.seconds + training.trainSeconds
        return AblationBalanced(balanceSeconds: max(0, final.elapsedSeconds - fitSeconds),
                                fit: .init(rows: training.rows, l2: calibration.l2 ?? balancing.training.l2, calibration: record,
                                           calibrationFitSeconds: calibration.seconds, finalFitSeconds: training.trainSeconds))
    }

    public func abandon() { _ = cancelOutstanding() }

    /// Asks the coordinator to cancel every job submitted and not collected (best effort, a few seconds at most
    /// per job); returns them, each with whether the coordinator confirmed.
    public func cancelOutstanding() -> [(Outstanding, cancelled: Bool)] {
        let jobs = state.withLock { state in
            defer { state.outstanding.removeAll() }
            state.abandoned = true
            return state.outstanding
        }
        guard !jobs.isEmpty else { return [] }
        let client = try? ClusterClient(coordinator: coordinator, timeoutSeconds: 2, security: security)
        return jobs.map { ($0, (try? client?.cancel(job: $0.job))?.cancelled ?? false) }
    }
}
