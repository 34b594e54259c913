import Foundation

/// A `--state` filter for job listings: comma-separated states, where `live` means every unfinished state.
public struct JobStateFilter: Sendable, Equatable {
    public var states: Set<JobState>

    /// An unknown word, with the words that are allowed.
    public struct UnknownState: Error, CustomStringConvertible {
        public var word: String
        public var description: String {
            "unknown state '\(word)' in --state; use queued, running, gathering, training, committed, failed, cancelled or live"
        }
    }

    public init(parsing text: String) throws(UnknownState) {
        var states = Set<JobState>()
        for word in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            if word == "live" { states.formUnion([.queued, .running, .gathering, .training]); continue }
            guard let state = JobState(rawValue: word) else { throw UnknownState(word: word) }
            states.insert(state)
        }
        self.states = states
    }

    public func admits(_ job: JobStatus) -> Bool { states.contains(job.state) }
}
