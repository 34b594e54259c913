import Testing
import TailForgeCluster

@Suite struct JobStateFilterTests {
    @Test func liveMeansEveryUnfinishedStateAndWordsAreTrimmedAndCaseBlind() throws {
        #expect(try JobStateFilter(parsing: "live").states == [.queued, .running, .gathering, .training])
        #expect(try JobStateFilter(parsing: " Failed ,cancelled").states == [.failed, .cancelled])
    }

    @Test func anUnknownStateIsNamedWithTheAllowedWords() {
        let error = #expect(throws: JobStateFilter.UnknownState.self) { try JobStateFilter(parsing: "running,runing") }
        #expect(error?.word == "runing")
        #expect(error?.description.contains("live") == true)
    }
}
