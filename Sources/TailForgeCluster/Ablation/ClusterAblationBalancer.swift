import Foundation
import Synchronization
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining

/// `tailforge ablate --coordinator`: each recipe's balancing is a job on the cluster (`layout: compact`, the
/// recipe's `balance` settings, output in ablate's work directory), so the file it commits is byte for byte the
/// one single-node `balance --layout compact` writes, and the training that follows on this machine gives the
/// same model. All jobs are submitted before the first fit: a refusal comes before any work, and the cluster
/// balances later recipes while earlier ones are fitted here.
///
/// The training stays on this machine: every ablate fit is calibrated (`train --calibrate`: a hold-out fit, then
/// the final fit), which a job's `train:` section does not do.
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

    public init(coordinator: String, security: SocketSecurity = .plaintext, timeoutSeconds: Double = 120,
                submitted: @escaping @Sendable (AblationBalancing, String) -> Void = { _, _ in }) {
        self.coordinator = coordinator
        self.security = security
        self.timeoutSeconds = timeoutSeconds
        self.submitted = submitted
    }

    /// The job that balances `balancing`: paths made absolute, as the coordinator requires; `overwrite`, as a local
    /// re-run replaces the work directory's balanced set too.
    public static func manifest(for balancing: AblationBalancing) -> JobManifest {
        let absolute = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
        return JobManifest(name: "ablate \(balancing.recipe)", input: .init(InputSpec(path: absolute(balancing.input))),
                           output: absolute(balancing.output), overwrite: true, policy: balancing.settings, layout: .compact)
    }

    public func start(_ balancings: [AblationBalancing]) async throws {
        guard !balancings.isEmpty else { return }
        do {
            let client: ClusterClient
            do { client = try ClusterClient(coordinator: coordinator, timeoutSeconds: min(10, timeoutSeconds), security: security) } catch {
                throw ClusterAblationError.unreachable(recipe: balancings[0].recipe, coordinator: coordinator, error: error)
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

    public func finish(_ balancing: AblationBalancing) async throws -> Double {
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
        return final.elapsedSeconds
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
