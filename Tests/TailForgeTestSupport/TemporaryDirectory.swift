import Foundation
import Synchronization

/// A fresh private directory under the temporary directory (`TMPDIR`), owned by one test or one fixture, and
/// removed with everything in it when its owner lets go of it (`deinit`), pass or fail.
///
/// A test that only writes files holds one in a local or a stored property (of its suite, released after each
/// test, or of a fixture value), or runs in ``withTemporaryDirectory(_:_:)``. A test that starts daemons or child
/// processes runs in the async ``withTemporaryDirectory(_:isolation:_:)``, which stops them (``beforeRemoval(_:)``)
/// before the directory goes. A fixture shared through a `static` uses ``removedAtExit(_:)``. `Scripts/test-swift`
/// fails the run if anything is left in its private `TMPDIR`.
public final class TemporaryDirectory: Sendable {
    /// The directory of the innermost async ``withTemporaryDirectory(_:isolation:_:)``: helpers that start daemons
    /// or child processes register their stop there with ``beforeRemoval(_:)``, so none outlives the directory
    /// it writes into.
    @TaskLocal public static var current: TemporaryDirectory?

    public let path: String
    private let teardown = Mutex<[@Sendable () async -> Void]>([])

    /// `TMPDIR/tailforge-LABEL-XXXXXX`, created by `mkdtemp` (mode 0700, a name no other test has). A test cannot
    /// run without one, so failing to make it stops the run with the reason.
    public init(_ label: String = "test") {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("tailforge-\(label)-XXXXXX").path
        var template = Array(base.utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("cannot create the temporary directory \(base) (errno \(errno)): check that TMPDIR exists and is writable")
        }
        path = String(cString: made)
    }

    deinit { remove() }

    /// A directory for a fixture that a suite's tests share through a `static` (a trained model, a generated data
    /// set): statics are never released, so it is removed when the test process exits.
    public static func removedAtExit(_ label: String) -> TemporaryDirectory {
        let directory = TemporaryDirectory(label)
        RemovedAtExit.paths.withLock { paths in
            if paths.isEmpty { atexit { RemovedAtExit.removeAll() } }
            paths.append(directory.path)
        }
        return directory
    }

    /// `path/name`.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Every name in the directory, hidden files included, sorted.
    public var contents: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    /// Registers `action` (stopping a daemon or a child process that writes here) to run, and be waited for, before
    /// the directory is removed; actions run last registered first.
    public func beforeRemoval(_ action: @escaping @Sendable () async -> Void) {
        teardown.withLock { $0.append(action) }
    }

    /// Runs the registered stops, then removes the directory and everything in it.
    public func tearDown() async {
        while let action = teardown.withLock({ $0.popLast() }) { await action() }
        remove()
    }

    /// Removes the directory and everything in it now.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with the path of a fresh ``TemporaryDirectory`` labelled `label`, and removes the directory when
/// `body` returns or throws.
public func withTemporaryDirectory<T>(_ label: String, _ body: (String) throws -> T) rethrows -> T {
    let directory = TemporaryDirectory(label)
    defer { directory.remove() }
    return try body(directory.path)
}

/// Runs `body` with the path of a fresh ``TemporaryDirectory`` labelled `label` (also
/// ``TemporaryDirectory/current`` inside it); when `body` returns or throws, waits for every stop registered with
/// ``TemporaryDirectory/beforeRemoval(_:)``, then removes the directory.
public func withTemporaryDirectory<T>(
    _ label: String, isolation: isolated (any Actor)? = #isolation, _ body: (String) async throws -> T
) async rethrows -> T {
    let directory = TemporaryDirectory(label)
    do {
        let result = try await TemporaryDirectory.$current.withValue(directory) { try await body(directory.path) }
        await directory.tearDown()
        return result
    } catch {
        await directory.tearDown()
        throw error
    }
}

/// The shared fixtures' directories, removed by an `atexit` handler (which can capture nothing).
private enum RemovedAtExit {
    static let paths = Mutex<[String]>([])

    static func removeAll() {
        for path in paths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
