import Foundation

/// Held-out rows per class and, for every candidate τ, how many of them the adjusted argmax gets right: all that
/// choosing τ needs. Tallies of disjoint row sets add exactly (integers), so cluster workers each tally their own
/// held-out rows and only these counts cross the network.
public struct HeldOutTally: Sendable, Equatable {
    /// Held-out rows per class.
    public private(set) var rows: [Int]
    /// `correct[t][c]`: rows of class `c` predicted right with τ = grid[t].
    public private(set) var correct: [[Int]]

    public init(classCount: Int, gridCount: Int) {
        rows = [Int](repeating: 0, count: classCount)
        correct = [[Int]](repeating: rows, count: gridCount)
    }

    public var classCount: Int { rows.count }
    public var gridCount: Int { correct.count }
    public var rowCount: Int { rows.reduce(0, +) }

    /// Counts rows with `logits` (`[labels.count × classCount]`) scored `logit_c − τ·log π_c` for each τ of `grid`
    /// (argmax, ties to the lower class).
    ///
    /// A row is right at τ when its class y's score beats every lower class's strictly and ties or beats every higher
    /// one's. Score differences are linear in τ, so a class that is clearly below y at the grid's smallest and largest τ
    /// is below it at every τ between; only the few others (a margin of 1e-9 relative covers rounding) are compared
    /// at each τ, with the very arithmetic of the plain argmax: O(C + T·k) per row instead of O(T·C), the same counts
    /// (tested against the plain loop, ties and −∞ included).
    public mutating func add(logits: [Float], labels: [Int32], prior: [Double], grid: [Double]) {
        let classCount = rows.count
        precondition(logits.count == labels.count * classCount && prior.count == classCount && grid.count == correct.count,
                     "HeldOutTally.add: shapes disagree")
        let logPrior = prior.map { Foundation.log($0) }
        for y in labels { rows[Int(y)] += 1 }
        guard !grid.isEmpty else { return }
        let low = grid.min()!, high = grid.max()!
        var rivals: [Int] = []
        for i in labels.indices {
            let y = Int(labels[i]), base = i * classCount
            let own = Double(logits[base + y])
            guard own.isFinite, logPrior.allSatisfy(\.isFinite) else {
                Self.addPlainly(&correct, row: logits[base ..< base + classCount], label: y, logPrior: logPrior, grid: grid)
                continue
            }
            let ownLow = own - low * logPrior[y], ownHigh = own - high * logPrior[y]
            rivals.removeAll(keepingCapacity: true)
            var unscorable = false
            for c in 0 ..< classCount where c != y {
                let logit = Double(logits[base + c])
                if logit.isNaN || logit == .infinity { unscorable = true; break }
                let scoreLow = logit - low * logPrior[c], scoreHigh = logit - high * logPrior[c]
                let margin = 1e-9 * (1 + Swift.max(abs(scoreLow), abs(ownLow), abs(scoreHigh), abs(ownHigh)))
                if scoreLow > ownLow - margin || scoreHigh > ownHigh - margin { rivals.append(c) }
            }
            if unscorable {
                Self.addPlainly(&correct, row: logits[base ..< base + classCount], label: y, logPrior: logPrior, grid: grid)
                continue
            }
            for (t, tau) in grid.enumerated() {
                let score = own - tau * logPrior[y]
                var right = true
                for c in rivals {
                    let rival = Double(logits[base + c]) - tau * logPrior[c]
                    if c < y ? rival >= score : rival > score { right = false; break }
                }
                if right { correct[t][y] += 1 }
            }
        }
    }

    /// The plain argmax for one row at every τ (a row with a non-finite score of its own class or a NaN/+∞ rival).
    static func addPlainly(_ correct: inout [[Int]], row: ArraySlice<Float>, label: Int, logPrior: [Double], grid: [Double]) {
        let base = row.startIndex
        for (t, tau) in grid.enumerated() {
            var best = 0, bestScore = -Double.infinity
            for c in 0 ..< logPrior.count {
                let score = Double(row[base + c]) - tau * logPrior[c]
                if score > bestScore { best = c; bestScore = score }
            }
            if best == label { correct[t][best] += 1 }
        }
    }

    /// Adds another tally of the same shape (other rows).
    public mutating func add(_ other: HeldOutTally) {
        precondition(other.rows.count == rows.count && other.correct.count == correct.count, "HeldOutTally.add: shapes disagree")
        for c in rows.indices { rows[c] += other.rows[c] }
        for t in correct.indices { for c in rows.indices { correct[t][c] += other.correct[t][c] } }
    }

    /// Balanced accuracy (mean over classes with at least one row of the share predicted right) for each τ.
    public var balancedAccuracies: [Double] {
        correct.map { right in
            var sum = 0.0, classes = 0
            for c in rows.indices where rows[c] > 0 {
                sum += Double(right[c]) / Double(rows[c])
                classes += 1
            }
            return classes > 0 ? sum / Double(classes) : 0
        }
    }

    /// A compact exact encoding for sending between processes: little-endian Int64 class count, grid size, then
    /// `rows` and `correct` row by row.
    public func serialized() -> [UInt8] {
        var values = [Int64(rows.count), Int64(correct.count)] + rows.map(Int64.init)
        for right in correct { values += right.map(Int64.init) }
        return values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
    }

    /// Decodes ``serialized()``; nil when the bytes are not a complete, consistent encoding of that shape.
    public init?(serialized bytes: [UInt8], classCount: Int, gridCount: Int) {
        guard bytes.count % 8 == 0 else { return nil }
        let values = stride(from: 0, to: bytes.count, by: 8).map { offset in
            bytes[offset ..< offset + 8].reversed().reduce(Int64(0)) { $0 << 8 | Int64($1) }
        }
        guard values.count == 2 + classCount * (gridCount + 1), values[0] == Int64(classCount), values[1] == Int64(gridCount),
              values.dropFirst(2).allSatisfy({ $0 >= 0 }) else { return nil }
        rows = values[2 ..< 2 + classCount].map { Int($0) }
        correct = (0 ..< gridCount).map { t in values[2 + classCount * (t + 1) ..< 2 + classCount * (t + 2)].map { Int($0) } }
        guard correct.allSatisfy({ zip($0, rows).allSatisfy { $0 <= $1 } }) else { return nil }
    }
}
