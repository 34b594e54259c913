import COpenBLAS

/// Exact within-set k-nearest-neighbour search by cosine (inner product of unit-norm rows).
///
/// Rows are processed in blocks: one `cblas_sgemm` computes a block's similarities to the rows from the block's
/// first on (memory O(blockRows × n), never n × n; each pair once, so half the flops of n × n), then each row
/// keeps a running top-k in a small heap, offered its candidates in index order (those below its block from
/// the earlier blocks' columns), skipping candidates below the current k-th best with one compare (partial
/// selection, no sort of n values). Which neighbours win depends only on the similarities' bits; the GEMM
/// kernel computes the (i, j) and (j, i) products alike, so computing each pair once changes none.
/// Self is excluded by index, so exact duplicates are found as neighbours with cosine 1. The selection runs
/// on `threads` ``ComputePool`` threads; the default, 1, keeps the whole search on the caller's thread (the
/// engine already runs one class per thread).
public enum NearestNeighbours {
    /// The `k` nearest rows to each row of `points` (rows assumed unit norm). `k` is capped at n − 1.
    public static func search(_ points: Matrix, k: Int, blockRows: Int = 512, threads: Int = 1) -> NearestNeighbourResult {
        precondition(k >= 0, "NearestNeighbours: k must be ≥ 0, got \(k)")
        precondition(blockRows >= 1, "NearestNeighbours: blockRows must be ≥ 1, got \(blockRows)")
        let n = points.rows, d = points.columns
        precondition(n <= Int(Int32.max), "NearestNeighbours: at most Int32.max rows (indices are Int32)")
        let k = min(k, max(n - 1, 0))
        guard k > 0 else { return NearestNeighbourResult(k: 0, indices: [], cosines: []) }
        let block = min(blockRows, n)
        var indices = [Int32](repeating: 0, count: n * k)
        var cosines = [Float](repeating: 0, count: n * k)
        // Candidates each row's heap holds so far: a row's heap is filled over several blocks.
        var filled = [Int](repeating: 0, count: n)
        var similarities = [Float](repeating: 0, count: block * n)
        points.storage.withUnsafeBufferPointer { x in
            similarities.withUnsafeMutableBufferPointer { s in
                indices.withUnsafeMutableBufferPointer { outIndex in
                    cosines.withUnsafeMutableBufferPointer { outCosine in
                        filled.withUnsafeMutableBufferPointer { outFilled in
                            var start = 0
                            while start < n {
                                let rows = min(block, n - start)
                                // The similarity of rows i < j is computed once, in the block of i: each block
                                // multiplies its rows by the rows from its own first on (half the flops of all n).
                                // Row j gets i as a candidate from block i's column j, in index order as before.
                                let columns = n - start
                                cblas_sgemm(
                                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(columns), Int32(d), 1,
                                    x.baseAddress! + start * d, Int32(d), x.baseAddress! + start * d, Int32(d), 0,
                                    s.baseAddress!, Int32(columns))
                                let first = start
                                // Scoped unsafe captures: each worker writes only its own rows' outputs.
                                nonisolated(unsafe) let similarities = UnsafePointer(s.baseAddress!)
                                nonisolated(unsafe) let cosineOut = outCosine.baseAddress!, indexOut = outIndex.baseAddress!
                                nonisolated(unsafe) let filledOut = outFilled.baseAddress!
                                let workers = max(1, min(threads, columns))
                                let select: @Sendable (Int) -> Void = { worker in
                                    // This block's rows: their candidates below `first` came from earlier blocks;
                                    // after these the row is complete.
                                    for r in stride(from: worker, to: rows, by: workers) {
                                        let i = first + r
                                        var heap = TopK(cosines: cosineOut + i * k, indices: indexOut + i * k, capacity: k, count: filledOut[i])
                                        let row = similarities + r * columns
                                        heap.scan(row, from: 0, to: r, firstIndex: first)
                                        heap.scan(row, from: r + 1, to: columns, firstIndex: first)
                                        heap.sortDescending()
                                    }
                                    // Later rows: this block's rows as candidates, in index order.
                                    for c in stride(from: rows + worker, to: columns, by: workers) {
                                        let j = first + c
                                        var heap = TopK(cosines: cosineOut + j * k, indices: indexOut + j * k, capacity: k, count: filledOut[j])
                                        for r in 0..<rows { heap.offer(similarities[r * columns + c], Int32(first + r)) }
                                        filledOut[j] = heap.count
                                    }
                                }
                                ComputePool.forEach(workers, width: workers, select)
                                start += rows
                            }
                        }
                    }
                }
            }
        }
        return NearestNeighbourResult(k: k, indices: indices, cosines: cosines)
    }
}

/// A bounded min-heap over caller-owned storage whose root is the worst kept candidate (lowest cosine,
/// then highest index).
struct TopK {
    let cosines: UnsafeMutablePointer<Float>
    let indices: UnsafeMutablePointer<Int32>
    let capacity: Int
    var count: Int

    /// A heap over storage that already holds `count` candidates (0: empty).
    init(cosines: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>, capacity: Int, count: Int = 0) {
        self.cosines = cosines
        self.indices = indices
        self.capacity = capacity
        self.count = count
    }

    @inline(__always)
    func worse(_ i: Int, _ j: Int) -> Bool {
        cosines[i] < cosines[j] || (cosines[i] == cosines[j] && indices[i] > indices[j])
    }

    /// Offers one candidate; candidates come in increasing index order, so one equal to the current worst is
    /// never better (its index is higher) and a strict compare against the root suffices.
    mutating func offer(_ cosine: Float, _ index: Int32) {
        if count < capacity {
            push(cosine, index)
        } else if cosine > cosines[0] {
            replaceRoot(cosine, index)
        }
    }

    /// Offers candidates `row[lower..<upper]` in index order, `row[j]` being the candidate of index
    /// `firstIndex + j` (see ``offer(_:_:)``).
    mutating func scan(_ row: UnsafePointer<Float>, from lower: Int, to upper: Int, firstIndex: Int = 0) {
        var j = lower
        while j < upper && count < capacity {
            push(row[j], Int32(firstIndex + j))
            j += 1
        }
        guard j < upper else { return }
        // Almost every candidate fails this one compare (about k·ln(n/k) replacements per row), so the
        // branch predicts well; a SIMD "any greater" test measured slower (the mask went through memory).
        var threshold = cosines[0]
        while j < upper {
            let c = row[j]
            if c > threshold {
                replaceRoot(c, Int32(firstIndex + j))
                threshold = cosines[0]
            }
            j += 1
        }
    }

    mutating func push(_ cosine: Float, _ index: Int32) {
        var i = count
        cosines[i] = cosine
        indices[i] = index
        count += 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard worse(i, parent) else { break }
            swapAt(i, parent)
            i = parent
        }
    }

    mutating func replaceRoot(_ cosine: Float, _ index: Int32) {
        cosines[0] = cosine
        indices[0] = index
        siftDown(0, limit: count)
    }

    func siftDown(_ start: Int, limit: Int) {
        var i = start
        while true {
            let left = 2 * i + 1, right = left + 1
            var worst = i
            if left < limit && worse(left, worst) { worst = left }
            if right < limit && worse(right, worst) { worst = right }
            if worst == i { return }
            swapAt(i, worst)
            i = worst
        }
    }

    func swapAt(_ i: Int, _ j: Int) {
        let c = cosines[i]; cosines[i] = cosines[j]; cosines[j] = c
        let x = indices[i]; indices[i] = indices[j]; indices[j] = x
    }

    /// Heap sort in place: repeatedly move the worst to the end, leaving best-first order.
    func sortDescending() {
        var end = count
        while end > 1 {
            end -= 1
            swapAt(0, end)
            siftDown(0, limit: end)
        }
    }
}
