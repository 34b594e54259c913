/// Last-heard times of peers, and which of them have been silent longer than the liveness window.
struct LivenessTracker<Peer: Hashable> {
    let window: Duration
    private(set) var lastHeard: [Peer: ContinuousClock.Instant] = [:]

    init(livenessMilliseconds: Int) {
        window = .milliseconds(livenessMilliseconds)
    }

    /// Any message from a peer is a sign of life.
    mutating func heard(from peer: Peer, at now: ContinuousClock.Instant = .now) {
        lastHeard[peer] = now
    }

    mutating func forget(_ peer: Peer) {
        lastHeard[peer] = nil
    }

    /// Removes and returns the peers silent for longer than the window.
    mutating func removeExpired(at now: ContinuousClock.Instant = .now) -> [Peer] {
        let dead = lastHeard.filter { now - $0.value > window }.map(\.key)
        for peer in dead { lastHeard[peer] = nil }
        return dead
    }

    func silence(of peer: Peer, at now: ContinuousClock.Instant = .now) -> Duration? {
        lastHeard[peer].map { now - $0 }
    }
}
