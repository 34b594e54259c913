import COpenBLAS

/// Exact within-set k-nearest-neighbour search by cosine (inner product of unit-norm rows).
///
/// Rows are processed in blocks: one `cblas_sgemm` computes a block's similarities to all n rows
/// (memory O(blockRows × n), never n × n), then each row keeps a running top-k in a small heap, skipping
/// candidates below the current k-th best with one compare (partial selection, no sort of n values).
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
        var similarities = [Float](repeating: 0, count: block * n)
        points.storage.withUnsafeBufferPointer { x in
            similarities.withUnsafeMutableBufferPointer { s in
                indices.withUnsafeMutableBufferPointer { outIndex in
                    cosines.withUnsafeMutableBufferPointer { outCosine in
                        var start = 0
                        while start < n {
                            let rows = min(block, n - start)
                            cblas_sgemm(
                                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(d), 1,
                                x.baseAddress! + start * d, Int32(d), x.baseAddress!, Int32(d), 0, s.baseAddress!, Int32(n))
                            let first = start
                            // Scoped unsafe captures: each worker writes only its own rows' outputs.
                            nonisolated(unsafe) let similarities = UnsafePointer(s.baseAddress!)
                            nonisolated(unsafe) let cosineOut = outCosine.baseAddress!, indexOut = outIndex.baseAddress!
                            let workers = max(1, min(threads, rows))
                            let select: @Sendable (Int) -> Void = { worker in
                                for r in stride(from: worker, to: rows, by: workers) {
                                    var heap = TopK(
                                        cosines: cosineOut + (first + r) * k, indices: indexOut + (first + r) * k, capacity: k)
                                    let row = similarities + r * n
                                    heap.scan(row, from: 0, to: first + r)
                                    heap.scan(row, from: first + r + 1, to: n)
                                    heap.sortDescending()
                                }
                            }
                            ComputePool.forEach(workers, width: workers, select)
                            start += rows
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
    var count = 0

    init(cosines: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>, capacity: Int) {
        self.cosines = cosines
        self.indices = indices
        self.capacity = capacity
    }

    @inline(__always)
    func worse(_ i: Int, _ j: Int) -> Bool {
        cosines[i] < cosines[j] || (cosines[i] == cosines[j] && indices[i] > indices[j])
    }

    /// Offers candidates `row[lower..<upper]` in index order. A candidate equal to the current worst is never
    /// better (its index is higher), so a strict compare against the root suffices.
    mutating func scan(_ row: UnsafePointer<Float>, from lower: Int, to upper: Int) {
        var j = lower
        while j < upper && count < capacity {
            push(row[j], Int32(j))
            j += 1
        }
        guard j < upper else { return }
        // Almost every candidate fails this one compare (about k·ln(n/k) replacements per row), so the
        // branch predicts well; a SIMD "any greater" test measured slower (the mask went through memory).
        var threshold = cosines[0]
        while j < upper {
            let c = row[j]
            if c > threshold {
                replaceRoot(c, Int32(j))
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
