import Foundation
import Testing
@testable import TailForgeStorage

#if canImport(Glibc)
import Glibc
import TailForgeTestSupport
#endif

/// Any process started while a file is being written inherits its descriptor: Foundation's `Process` on Linux
/// closes only the descriptors open when it lists /proc/self/fd, so one opened by another thread a moment later
/// goes to the child, and every child holds all of them between its fork and its exec. Swift Testing runs tests in
/// parallel in one process, and the suite starts many processes, so this happens. A lock taken on that
/// descriptor lives as long as the child's copy does; this test reproduces that deterministically.
@Suite struct InheritedDescriptorTests {
    /// A child that inherits every descriptor open when it starts (no close actions, like a plain fork + exec)
    /// and sleeps until killed.
    final class InheritingChild {
        let pid: pid_t

        init() throws {
            var pid = pid_t()
            let words: [String] = ["/bin/sleep", "30"]
            let arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
            defer { arguments.forEach { free($0) } }
            let status = posix_spawn(&pid, "/bin/sleep", nil, nil, arguments + [nil], environ)
            guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
            self.pid = pid
        }

        deinit {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    @Test func aChildStartedWhileAWriterIsOpenDoesNotLockReadersOutOfTheCommittedFile() throws {
        let directory = TemporaryDirectory("storage")
        let path = directory.file("out.h5")
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeDataset("values", values: [Float]([1, 2, 3, 4]), shape: [4])
        let child = try InheritingChild()
        try writer.commit()
        // Old code: the child's copy of the writer's descriptor still held HDF5's exclusive lock, so this open
        // failed with "unable to lock file, errno = 11" until the child exited.
        let file = try HDF5File.open(path: path)
        #expect(try file.readDataset("values", as: Float.self).values == [1, 2, 3, 4])
        withExtendedLifetime(child) {}
    }
}
