import Synchronization

/// The latest ``ClusterSnapshot``, replaced whole by the coordinator's network thread and read by the HTTP
/// server's threads: the one shared value between them (a `Mutex` around a value, as everywhere else shared).
public final class SnapshotBox: Sendable {
    private let value: Mutex<ClusterSnapshot>

    init(_ initial: ClusterSnapshot) { value = Mutex(initial) }

    func publish(_ snapshot: ClusterSnapshot) { value.withLock { $0 = snapshot } }

    public var current: ClusterSnapshot { value.withLock { $0 } }
}
