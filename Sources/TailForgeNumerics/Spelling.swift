/// Suggestions for misspelt words: the value of a word-valued flag (`--kappa lo`, `--layout compcat`) or a
/// manifest key (`traner:`). Lives at the bottom of the module graph so every layer's parser can say "did you mean".
public enum Spelling {
    /// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps each cost 1,
    /// so `samplr`, `kapa_min`, `compcat` and `polcy` are each one edit from the word they misspell.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    /// The word of `candidates` closest to `word` (ignoring case), if it is close enough to be a typo of it: one
    /// edit for short words, up to a third of the candidate's length, never more than three. The first wins a tie.
    public static func closest(to word: String, among candidates: [String]) -> String? {
        let word = word.lowercased()
        let scored = candidates.map { ($0, distance(word, $0.lowercased())) }.min { $0.1 < $1.1 }
        guard let (best, edits) = scored, edits > 0, edits <= max(1, min(3, best.count / 3)) else { return nil }
        return best
    }

    /// `" (did you mean `x`?)"` for the closest candidate, or an empty string: parenthesised, so it reads within
    /// the CLI's "expected …" and the manifest's "it must be …." sentences alike.
    public static func hint(for word: String, among candidates: [String]) -> String {
        closest(to: word, among: candidates).map { " (did you mean `\($0)`?)" } ?? ""
    }
}
