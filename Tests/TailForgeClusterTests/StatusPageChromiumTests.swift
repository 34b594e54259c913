import Foundation
import TailForgeTestSupport
import Testing
@testable import TailForgeCluster

/// What the status page's script draws for OpenBLAS kernel families, in a real browser: `StatusPage.html` of a fixture
/// snapshot written to a file and rendered by headless Chromium (`--dump-dom`). The page's first render comes from
/// the snapshot embedded in it, so no coordinator is needed; its later polls of `api/status` fail on `file://` and
/// leave that render as it is. `Scripts/test-deploy status-page` loads the page from a real coordinator, but all of
/// its processes run this CPU's family, so a mixed-family job is only ever drawn here.
@Suite struct StatusPageChromiumTests {
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/local/bin/chromium"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static let noChromium: Comment = "chromium not found: install Debian's chromium (Scripts/bootstrap does)"

    /// The rendered DOM of the page for `snapshot`, with the flags `Scripts/test-deploy status-page` uses (root needs
    /// `--no-sandbox`; a profile of its own so parallel runs do not share one), up to its scripts: the embedded data
    /// and the script's source name the warning's text and classes too, and only what was drawn may count.
    static func renderedDOM(_ snapshot: ClusterSnapshot) async throws -> String {
        return try await withTemporaryDirectory("page") { directory in
            let page = directory + "/status.html"
            try StatusPage.html(snapshot).write(toFile: page, atomically: true, encoding: .utf8)
            let result = try await Child.run(try #require(chromium), [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-dev-shm-usage",
                "--user-data-dir=\(directory)/profile", "--window-size=1280,1100", "--dump-dom", URL(fileURLWithPath: page).absoluteString,
            ])
            try #require(result.status == 0 && result.stdout.contains("</html>"), "chromium exited \(result.status): \(result.stderr.suffix(2000))")
            let scripts = try #require(result.stdout.range(of: "<script"), "no script in the page chromium dumped")
            return String(result.stdout[..<scripts.lowerBound])
        }
    }

    /// The markup of the table row (or other element) from `marker` to the end of its row.
    static func row(_ marker: String, in dom: String) throws -> Substring {
        let start = try #require(dom.range(of: marker), "no \(marker) in the page")
        let end = try #require(dom.range(of: "</tr>", range: start.upperBound..<dom.endIndex), "the row of \(marker) does not end")
        return dom[start.lowerBound..<end.upperBound]
    }

    /// Text as the DOM serialiser writes it inside an element.
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Coordinator on SkylakeX; workers on Haswell, SkylakeX and one that does not say its family; a training job
    /// whose fit used the Haswell worker, a running job, and mixed jobs counted in two states.
    static func mixedSnapshot() -> ClusterSnapshot {
        var kernels = TrainingKernels()
        kernels.trainer(TrainingKernels.coordinator, family: "SkylakeX")
        kernels.computed(by: "w1", family: "Haswell")
        var snapshot = ObservabilityTests.snapshot(workers: ["w1", "w2", "w3"], jobs: [("mixed", .training), ("plain", .running)])
        snapshot.blasCore = "SkylakeX"
        snapshot.workers[0].blasCore = "Haswell"
        snapshot.workers[1].blasCore = "SkylakeX"
        snapshot.jobs[0].kernels = kernels
        snapshot.jobs[0].kernelWarning = kernels.warning
        snapshot.mixedKernelJobs = ["training": 1, "committed": 2]
        return snapshot
    }

    @Test(.enabled(if: chromium != nil, noChromium))
    func aMixedFamilyJobIsDrawnWithItsWarningTheDifferingWorkerAndTheCard() async throws {
        let snapshot = Self.mixedSnapshot()
        let warning = try #require(snapshot.jobs[0].kernelWarning)
        let dom = try await Self.renderedDOM(snapshot)

        #expect(dom.contains("coordinator OpenBLAS SkylakeX</span>"), "the header does not name the coordinator's family")
        // The warning under the job's name (after it, in the same cell's row), and none under the other job.
        let mixed = try Self.row("data-job=\"mixed\"", in: dom)
        let drawn = "<div class=\"warning\" data-kernel-warning=\"\">warning: \(Self.escaped(warning))</div>"
        let name = try #require(mixed.range(of: "<div>mixed</div>"), "the job's name is not drawn")
        let under = try #require(mixed.range(of: drawn), "the job's kernel-family warning is not drawn: \(mixed)")
        #expect(name.upperBound <= under.lowerBound, "the warning is not under the job's name")
        #expect(!(try Self.row("data-job=\"plain\"", in: dom)).contains("data-kernel-warning"))
        // The Haswell worker differs from the coordinator: its cell in the warning class; the others are plain.
        let haswell = try Self.row("data-worker=\"w1\"", in: dom)
        #expect(haswell.contains("<td class=\"blas mixed\" title=\"not the coordinator's family (SkylakeX)"), "\(haswell)")
        #expect(haswell.contains(">Haswell</td>"))
        #expect(try Self.row("data-worker=\"w2\"", in: dom).contains("<td class=\"blas\">SkylakeX</td>"))
        #expect(try Self.row("data-worker=\"w3\"", in: dom).contains("<td class=\"blas\">\(TrainingKernels.unknown)</td>"),
                "a worker that does not say its family is not marked as differing")
        #expect(dom.components(separatedBy: "class=\"blas mixed\"").count - 1 == 1)
        // The card counts the mixed jobs of every state.
        #expect(dom.contains("<div class=\"card warn\" id=\"mixed-kernels\"><div class=\"n\">3</div><div class=\"l\">jobs on mixed OpenBLAS kernels</div></div>"))
    }

    @Test(.enabled(if: chromium != nil, noChromium))
    func aSingleFamilyClusterIsDrawnWithoutWarnings() async throws {
        var snapshot = ObservabilityTests.snapshot(workers: ["w1", "w2"], jobs: [("trained", .committed), ("plain", .running)])
        snapshot.blasCore = "SkylakeX"
        snapshot.workers[0].blasCore = "SkylakeX"
        snapshot.workers[1].blasCore = "skylakex"   // the script compares families without case
        snapshot.workers[1].training = "2 training parts of job trained (session train-1)"
        var kernels = TrainingKernels()
        kernels.trainer(TrainingKernels.coordinator, family: "SkylakeX")
        kernels.computed(by: "w1", family: "SkylakeX")
        snapshot.jobs[0].kernels = kernels
        snapshot.jobs[0].kernelWarning = kernels.warning
        #expect(snapshot.jobs[0].kernelWarning == nil)
        let dom = try await Self.renderedDOM(snapshot)

        // Drawn at all (so the absences below say something): both jobs and both workers with their family.
        #expect(dom.contains("coordinator OpenBLAS SkylakeX</span>"))
        _ = try Self.row("data-job=\"trained\"", in: dom)
        _ = try Self.row("data-job=\"plain\"", in: dom)
        #expect(try Self.row("data-worker=\"w1\"", in: dom).contains("<td class=\"blas\">SkylakeX</td>"))
        #expect(try Self.row("data-worker=\"w2\"", in: dom).contains("<td class=\"blas\">skylakex</td>"))
        // A worker serving training parts between shards is in state `training` with what it serves, not idle.
        let serving = try Self.row("data-worker=\"w2\"", in: dom)
        #expect(serving.contains("<span class=\"badge training\" title=\"\">training</span>"), "\(serving)")
        #expect(serving.contains("<code>serving 2 training parts of job trained (session train-1)</code>"), "\(serving)")
        #expect(try Self.row("data-worker=\"w1\"", in: dom).contains("<span class=\"badge idle\" title=\"\">idle</span>"))
        #expect(!dom.contains("data-kernel-warning"), "a kernel-family warning on one family")
        #expect(!dom.contains("blas mixed"), "a worker marked as differing on one family")
        #expect(!dom.contains("mixed-kernels") && !dom.contains("jobs on mixed OpenBLAS kernels"), "the mixed-jobs card on one family")
    }
}
