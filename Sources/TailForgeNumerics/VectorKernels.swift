/// Loops for the per-sample work of the samplers, eight Float lanes at a time with a scalar remainder (eight,
/// not sixteen: three sixteen-lane accumulators and their operands overflow SSE2's sixteen registers).
///
/// Sums are kept per lane in Float and the lanes added in Double at the end: each lane adds only d/8 terms
/// (96 at d = 768), so its relative rounding error stays below 96 · 2⁻²⁴ ≈ 6e-6 in the worst case and ~6e-7
/// typically, far inside what the samplers need, and the loop runs at the Float vector width instead of
/// widening every element to Double.
@usableFromInline
enum VectorKernels {
    @usableFromInline typealias Lanes = SIMD8<Float>

    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> Lanes {
        UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
    }

    @inlinable @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Lanes.self)
    }

    /// Σ of the lanes, added in Double.
    @inlinable @inline(__always)
    static func sum(_ v: Lanes) -> Double {
        SIMD8<Double>(
            Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]), Double(v[4]), Double(v[5]), Double(v[6]), Double(v[7])
        ).sum()
    }

    /// (a·b, a·a, b·b) in one pass.
    @inlinable
    static func dots(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> (ab: Double, aa: Double, bb: Double) {
        var ab = Lanes.zero, aa = Lanes.zero, bb = Lanes.zero
        var i = 0
        while i &+ Lanes.scalarCount <= count {
            let x = load(a, i), y = load(b, i)
            ab += x * y
            aa += x * x
            bb += y * y
            i &+= Lanes.scalarCount
        }
        var sab = sum(ab), saa = sum(aa), sbb = sum(bb)
        while i < count {
            let x = Double(a[i]), y = Double(b[i])
            sab += x * y
            saa += x * x
            sbb += y * y
            i &+= 1
        }
        return (sab, saa, sbb)
    }

    /// y[i] = α·m[i] + β·y[i].
    @inlinable
    static func combine(alpha: Float, _ m: UnsafePointer<Float>, beta: Float, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let va = Lanes(repeating: alpha), vb = Lanes(repeating: beta)
        var i = 0
        while i &+ Lanes.scalarCount <= count {
            store(va * load(m, i) + vb * load(UnsafePointer(y), i), y, i)
            i &+= Lanes.scalarCount
        }
        while i < count {
            y[i] = alpha * m[i] + beta * y[i]
            i &+= 1
        }
    }
}
