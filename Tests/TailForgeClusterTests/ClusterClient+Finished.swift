import Foundation
import TailForgeCluster

extension ClusterClient {
    /// Polls the job's status until it is committed, failed or cancelled, or `seconds` pass; the last status seen.
    func finished(job: String, seconds: Double = 60) -> JobStatus? {
        var last: JobStatus?
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, last?.state.isTerminal != true {
            last = (try? status(job: job))?.jobs.first ?? last
            Thread.sleep(forTimeInterval: 0.05)
        }
        return last
    }
}
