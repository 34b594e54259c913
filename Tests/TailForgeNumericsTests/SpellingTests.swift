import Testing
import TailForgeNumerics

@Suite struct SpellingTests {
    @Test(arguments: [("", "abc", 3), ("kitten", "sitting", 3), ("compcat", "compact", 1), ("samplr", "sampler", 1), ("loo", "loo", 0)])
    func distanceCountsInsertionsDeletionsSubstitutionsAndSwaps(a: String, b: String, edits: Int) {
        #expect(Spelling.distance(a, b) == edits)
        #expect(Spelling.distance(b, a) == edits)
    }

    @Test(arguments: [("lo", "loo"), ("compcat", "compact"), ("vmff", "vmf"), ("GAUSIAN", "gaussian"), ("maxx", "max")])
    func aTypoFindsTheWordItMisspells(typo: String, word: String) {
        #expect(Spelling.closest(to: typo, among: ["local", "class", "loo", "compact", "full", "vmf", "gaussian", "smote", "max"]) == word)
    }

    @Test func anUnrelatedWordOrTheWordItselfSuggestsNothing() {
        #expect(Spelling.closest(to: "global", among: ["local", "loo"]) == nil)  // two edits from a five-letter word
        #expect(Spelling.closest(to: "zzz", among: ["local", "class", "loo"]) == nil)
        #expect(Spelling.closest(to: "loo", among: ["local", "loo"]) == nil)
        #expect(Spelling.hint(for: "zzz", among: ["full"]) == "")
        #expect(Spelling.hint(for: "ful", among: ["full", "compact"]) == " (did you mean `full`?)")
    }
}
