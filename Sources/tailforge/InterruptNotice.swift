import Dispatch
import Foundation

/// While a client follows a job, Ctrl-C (SIGINT) detaches rather than silently dying: it says the job keeps
/// running on the coordinator and how to follow or cancel it, then exits with status 130.
enum InterruptNotice {
    nonisolated(unsafe) private static var source: (any DispatchSourceSignal)?

    static func install(job: String, coordinator: String) {
        let message = "\ninterrupted: job \(job) keeps running on the coordinator.\n"
            + "  follow it:  tailforge wait \(job) --coordinator \(coordinator)\n"
            + "  cancel it:  tailforge cancel \(job) --coordinator \(coordinator)\n"
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            fflush(nil)  // all streams: `stdout` is not concurrency-safe to name
            FileHandle.standardError.write(Data(message.utf8))
            // The main thread is blocked in a socket poll; leave without running exit handlers behind its back.
            _exit(130)
        }
        source.resume()
        self.source = source
    }
}
