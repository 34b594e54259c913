import CTailForgeInterrupt
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files this process is writing (every atomic writer's `.NAME.tmp-PID-N`), so that an
/// interrupt can remove them: one registry for every writer, one handler for every command.
public enum TemporaryFiles {
    private static let sequence = Atomic<Int>(0)

    /// A fresh hidden sibling of `path`, `.NAME.tmp-PID-N`, unique within the process.
    static func siblingPath(for path: String) -> String {
        let serial = sequence.add(1, ordering: .relaxed).newValue
        return POSIXFile.directory(of: path) + "/." + POSIXFile.fileName(of: path) + ".tmp-\(getpid())-\(serial)"
    }

    /// Records a temporary file before it is created; pass the token to ``forget(_:)`` once it was renamed or
    /// removed.
    static func register(_ path: String) -> Int32 {
        tailforge_temporary_register(path)
    }

    static func forget(_ token: Int32) {
        tailforge_temporary_unregister(token)
    }

    /// Records a directory this process created for scratch files of its own (`ablate`'s temporary work
    /// directory, which can hold gigabytes of balanced sets): an interrupt removes it and everything in it.
    /// Pass the token to ``forgetScratchDirectory(_:)`` once the directory was removed.
    public static func registerScratchDirectory(_ path: String) -> Int32 {
        tailforge_scratch_directory_register(path)
    }

    public static func forgetScratchDirectory(_ token: Int32) {
        forget(token)
    }

    /// From now on SIGINT, SIGTERM and SIGHUP remove every registered temporary file and end the process with
    /// status 128 + signal (130, 143, 129). One-shot commands call this first; the daemons do not, as they
    /// shut down gracefully and finish what they are writing.
    public static func removeOnInterrupt() {
        tailforge_temporary_remove_on_interrupt()
    }

    /// Temporary files currently registered.
    public static var liveCount: Int { Int(tailforge_temporary_live_count()) }
}
