/// The per-client job limits (`--max-jobs-per-client`, `--max-queued-jobs-per-client`) as a pure decision: a
/// client's job starts while it has fewer running jobs than the first, waits in its queue while that has room,
/// and is refused beyond both, so one client can neither occupy every worker nor fill the journal.
///
/// A client is a key fingerprint (or, with `--insecure`, an address); jobs resumed from the journal count against
/// the client that submitted them (the journal records it), so a restart does not reset anyone's allowance.
struct ClientJobLimits: Equatable {
    var maxRunning: Int
    var maxQueued: Int

    enum Admission: Equatable {
        case start
        case queue
        case refuse
    }

    /// What becomes of one more job of a client that has `running` started and `queued` waiting live jobs.
    func admission(running: Int, queued: Int) -> Admission {
        if running < maxRunning && queued == 0 { return .start }
        return queued < maxQueued ? .queue : .refuse
    }

    /// How many of a client's queued jobs may start now that it has `running` started jobs.
    func startable(running: Int, queued: Int) -> Int {
        max(0, min(queued, maxRunning - running))
    }
}
