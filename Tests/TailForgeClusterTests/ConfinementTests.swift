import Foundation
import Logging
import TailForgeTestSupport
import Testing
import TailForgeEngine
@testable import TailForgeCluster

/// `DataRoots` and the submit-time `DataRootCheck` as pure functions over a scratch directory tree with links.
@Suite struct ConfinementTests {
    /// `root/` (the data root) with `inside.h5`, `sub/`, a link `root/escape → outside/`, a link
    /// `root/passwd → /etc/passwd` and a dangling link; `outside/` and `state/` beside it.
    struct Tree {
        /// The tree's temporary directory, which goes with the value.
        let scratch = TemporaryDirectory("confine")
        var base: String { scratch.path }
        var root: String { base + "/root" }
        var outside: String { base + "/outside" }
        var state: String { base + "/root/state" }

        init() throws {
            let manager = FileManager.default
            for directory in [base + "/root/sub", base + "/outside", base + "/root/state"] {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            _ = manager.createFile(atPath: base + "/root/inside.h5", contents: Data([1]))
            _ = manager.createFile(atPath: base + "/outside/secret.h5", contents: Data([2]))
            _ = manager.createFile(atPath: base + "/root/state/journal.jsonl", contents: Data())
            try manager.createSymbolicLink(atPath: base + "/root/escape", withDestinationPath: base + "/outside")
            try manager.createSymbolicLink(atPath: base + "/root/passwd", withDestinationPath: "/etc/passwd")
            try manager.createSymbolicLink(atPath: base + "/root/dangling", withDestinationPath: base + "/outside/nowhere/deeper")
        }

        func roots() throws -> DataRoots { try DataRoots([root]) }
    }

    @Test func pathsInsideARootAreConfinedAndEveryEscapeIsNot() throws {
        let tree = try Tree()
        let roots = try tree.roots()
        #expect(roots.confine(tree.root + "/inside.h5") != nil)
        #expect(roots.confine(tree.root + "/not-yet/deeper/out.h5") != nil, "an output that does not exist yet, in a directory to be created")
        #expect(roots.confine(tree.root + "/sub/../inside.h5") != nil)
        #expect(roots.confine(tree.root) != nil)
        for escape in [tree.root + "/../outside/secret.h5", tree.root + "/escape/secret.h5", tree.root + "/escape/new.h5",
                       tree.root + "/passwd", tree.root + "/not-yet/../../outside/x.h5", tree.root + "/dangling",
                       tree.root + "/dangling/x.h5", "/etc/passwd", "/root/.ssh/authorized_keys", "relative/inside.h5",
                       tree.root + "-sibling/x.h5"] {
            #expect(roots.confine(escape) == nil, "\(escape) must be outside")
        }
        #expect(DataRoots.none.confine(tree.root + "/inside.h5") == nil, "no roots: nothing is inside")
    }

    @Test func aRootThatIsNotADirectoryIsRefused() throws {
        let tree = try Tree()
        #expect(throws: DataRootError.notADirectory(tree.root + "/inside.h5")) { try DataRoots([tree.root + "/inside.h5"]) }
        #expect(throws: DataRootError.notADirectory(tree.base + "/missing")) { try DataRoots([tree.base + "/missing"]) }
    }

    func manifest(_ tree: Tree, input: String? = nil, output: String? = nil, shared: String? = nil) -> JobManifest {
        JobManifest(input: .init(path: input ?? tree.root + "/inside.h5"), output: output ?? tree.root + "/out.h5",
                    transfer: .init(sharedShardDirectory: shared))
    }

    func refusal(_ manifest: JobManifest, _ tree: Tree) throws -> ManifestError? {
        let roots = try tree.roots()
        do { try DataRootCheck.check(manifest, roots: roots, stateDirectory: tree.state) } catch { return error }
        return nil
    }

    @Test func aJobInsideTheRootsPasses() throws {
        let tree = try Tree()
        #expect(try refusal(manifest(tree, shared: tree.root + "/shards"), tree) == nil)
    }

    @Test func eachPathOutsideTheRootsIsRefusedNamingThePathAndTheRoots() throws {
        let tree = try Tree()
        let cases: [(JobManifest, String, String)] = [
            (manifest(tree, input: "/etc/passwd"), "input.path", "/etc/passwd"),
            (manifest(tree, input: tree.root + "/passwd"), "input.path", tree.root + "/passwd"),
            (manifest(tree, output: "/root/.ssh/authorized_keys"), "output", "/root/.ssh/authorized_keys"),
            (manifest(tree, output: tree.root + "/escape/out.h5"), "output", tree.root + "/escape/out.h5"),
            (manifest(tree, shared: "/tmp/../etc/shards"), "transfer.shared_shard_directory", "/tmp/../etc/shards"),
        ]
        for (job, key, path) in cases {
            let error = try #require(try refusal(job, tree), "\(path) must be refused")
            #expect(error.key == key)
            #expect(error.reason.contains(path) && error.reason.contains(tree.root), "\(error)")
        }
    }

    @Test func aRefusalDoesNotSayWhetherAPathOutsideTheRootsExists() throws {
        let tree = try Tree()
        let existing = try #require(try refusal(manifest(tree, input: tree.outside + "/secret.h5"), tree))
        let missing = try #require(try refusal(manifest(tree, input: tree.outside + "/absent.h5"), tree))
        #expect(existing.reason.replacingOccurrences(of: "secret.h5", with: "X") == missing.reason.replacingOccurrences(of: "absent.h5", with: "X"))
        let directory = try #require(try refusal(manifest(tree, input: tree.outside), tree))
        #expect(directory.reason.replacingOccurrences(of: tree.outside, with: "X") == existing.reason.replacingOccurrences(of: tree.outside + "/secret.h5", with: "X"))
        #expect(!existing.reason.contains("exist"))
    }

    @Test func theStateDirectoryAResolvedManifestAndTheInputAreNeverAnOutput() throws {
        let tree = try Tree()
        let cases: [(JobManifest, String)] = [
            (manifest(tree, output: tree.state + "/journal.jsonl"), "state directory"),
            (manifest(tree, input: tree.state + "/journal.jsonl"), "state directory"),
            (manifest(tree, shared: tree.state + "/jobs"), "state directory"),
            (manifest(tree, output: tree.root + "/other.manifest.json"), "resolved manifest"),
            (manifest(tree, input: tree.root + "/x.manifest.json", output: tree.root + "/x.h5"), "overwrite the input"),
            (manifest(tree, output: tree.root + "/sub/../inside.h5"), "overwrite the input"),
        ]
        for (job, expected) in cases {
            let error = try #require(try refusal(job, tree), "\(job.output) from \(job.input.path) must be refused")
            #expect(error.reason.contains(expected), "\(error)")
        }
    }
}

/// Workers open training shards only inside their work directory and data roots.
@Suite struct WorkerConfinementTests {
    @Test func aTrainingLoadOutsideTheWorkersRootsIsRefusedWithoutOpeningTheFile() async throws {
        try await withTemporaryDirectory("worker-confine") { directory in
            let server = TrainingShardServer(threads: 1, workerName: "w", logger: Logger(label: "test"), readableRoots: [directory])
            let replies = AsyncStream<WireMessage>.makeStream()
            server.submit(WireMessage(TrainingLoad(session: "s", shards: [0, 1], paths: ["/etc/passwd", directory + "/../../etc/shadow"]))) {
                replies.continuation.yield($0)
            }
            var iterator = replies.stream.makeAsyncIterator()
            for path in ["/etc/passwd", directory + "/../../etc/shadow"] {
                let failure = try #require(await iterator.next()?.body(as: TrainingFailure.self))
                #expect(failure.message.contains("\(path) is outside this worker's work directory and data roots"), "\(failure.message)")
            }
        }
    }
}
