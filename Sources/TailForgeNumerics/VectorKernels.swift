import CTailForgeKernels

/// Loops for the per-sample work of the vMF sampler, in C cloned per instruction set (`tailforge_kernels.h`),
/// with the same bits on every CPU.
///
/// Dot products keep 32 Float partial sums per product (four independent 8-wide chains, so the adds' latency
/// overlaps) and add them in Double at the end: each lane adds only d/32 terms (24 at d = 768), so its
/// relative rounding error stays below 24 · 2⁻²⁴ ≈ 1.4e-6 in the worst case, far inside what the sampler
/// needs, and the loop runs at the Float vector width instead of widening every element to Double.
@usableFromInline
enum VectorKernels {
    @usableFromInline static var lanes: Int { Int(TAILFORGE_DOT_LANES) }

    /// (a·b, a·a, b·b) in one pass.
    @inlinable
    static func dots(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> (ab: Double, aa: Double, bb: Double) {
        let lanes = Self.lanes
        let blocks = count / lanes
        var sab = 0.0, saa = 0.0, sbb = 0.0
        if blocks > 0 {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * lanes) { sums in
                let s = sums.baseAddress!
                tailforge_dots(a, b, blocks, s)
                for l in 0..<lanes {
                    sab += Double(s[l])
                    saa += Double(s[lanes + l])
                    sbb += Double(s[2 * lanes + l])
                }
            }
        }
        for i in blocks * lanes ..< count {
            let x = Double(a[i]), y = Double(b[i])
            sab += x * y
            saa += x * x
            sbb += y * y
        }
        return (sab, saa, sbb)
    }

    /// y[i] = α·m[i] + β·y[i].
    @inlinable
    static func combine(alpha: Float, _ m: UnsafePointer<Float>, beta: Float, _ y: UnsafeMutablePointer<Float>, count: Int) {
        tailforge_combine(alpha, m, beta, y, count)
    }
}
