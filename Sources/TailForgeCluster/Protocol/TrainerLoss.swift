/// A worker named in `train.trainer` lost while it drove its job's fit, for `status` and `wait`: where the fit was,
/// and who continued it (the coordinator's own trainer, then the worker again once it registered).
public struct TrainerLoss: Codable, Sendable, Equatable, CustomStringConvertible {
    public var worker: String
    /// The fit's iteration `status` showed when the worker was lost.
    public var iteration: Int
    /// True when the coordinator's trainer continued the fit (from the last checkpoint) while the worker was away;
    /// false when the worker registered again before it had to (a restart under its name).
    public var takenOver: Bool
    /// True once the job went back to the worker.
    public var resumedOnWorker: Bool

    public init(worker: String, iteration: Int, takenOver: Bool = false, resumedOnWorker: Bool = false) {
        self.worker = worker; self.iteration = iteration; self.takenOver = takenOver; self.resumedOnWorker = resumedOnWorker
    }

    public var description: String {
        let lost = "trainer \(worker) lost at iteration \(iteration)"
        return switch (takenOver, resumedOnWorker) {
        case (true, true): "\(lost); taken over by the coordinator, then resumed on \(worker) after it reconnected"
        case (true, false): "\(lost); taken over by the coordinator"
        case (false, true): "\(lost); resumed on \(worker) after it reconnected"
        case (false, false): lost
        }
    }
}
