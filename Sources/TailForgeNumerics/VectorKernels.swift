/// Float-data, Double-accumulator loops for the per-sample work of the samplers. Eight lanes at a time so
/// the widening and the sums vectorise; a scalar loop finishes the remainder.
@usableFromInline
enum VectorKernels {
    @inlinable @inline(__always)
    static func load8(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Double> {
        let f = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        return SIMD8<Double>(
            Double(f[0]), Double(f[1]), Double(f[2]), Double(f[3]),
            Double(f[4]), Double(f[5]), Double(f[6]), Double(f[7]))
    }

    /// (a·b, a·a, b·b) in one pass.
    @inlinable
    static func dots(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> (ab: Double, aa: Double, bb: Double) {
        var ab = SIMD8<Double>.zero, aa = SIMD8<Double>.zero, bb = SIMD8<Double>.zero
        var i = 0
        while i + 8 <= count {
            let x = load8(a, i), y = load8(b, i)
            ab += x * y
            aa += x * x
            bb += y * y
            i += 8
        }
        var sab = ab.sum(), saa = aa.sum(), sbb = bb.sum()
        while i < count {
            let x = Double(a[i]), y = Double(b[i])
            sab += x * y
            saa += x * x
            sbb += y * y
            i += 1
        }
        return (sab, saa, sbb)
    }

    /// Σ a[i]².
    @inlinable
    static func squaredNorm(_ a: UnsafePointer<Float>, count: Int) -> Double {
        var acc = SIMD8<Double>.zero
        var i = 0
        while i + 8 <= count {
            let x = load8(a, i)
            acc += x * x
            i += 8
        }
        var s = acc.sum()
        while i < count {
            s += Double(a[i]) * Double(a[i])
            i += 1
        }
        return s
    }

    /// y[i] = α·m[i] + β·y[i], returning Σ y[i]² of the stored Float values.
    @inlinable
    static func combine(alpha: Float, _ m: UnsafePointer<Float>, beta: Float, _ y: UnsafeMutablePointer<Float>, count: Int) -> Double {
        var acc = SIMD8<Double>.zero
        var i = 0
        let va = SIMD8<Float>(repeating: alpha), vb = SIMD8<Float>(repeating: beta)
        while i + 8 <= count {
            let mm = UnsafeRawPointer(m + i).loadUnaligned(as: SIMD8<Float>.self)
            let yy = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            let r = va * mm + vb * yy
            UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: SIMD8<Float>.self)
            let d = SIMD8<Double>(
                Double(r[0]), Double(r[1]), Double(r[2]), Double(r[3]),
                Double(r[4]), Double(r[5]), Double(r[6]), Double(r[7]))
            acc += d * d
            i += 8
        }
        var s = acc.sum()
        while i < count {
            let r = alpha * m[i] + beta * y[i]
            y[i] = r
            s += Double(r) * Double(r)
            i += 1
        }
        return s
    }

    @inlinable
    static func scale(_ y: UnsafeMutablePointer<Float>, by factor: Float, count: Int) {
        for i in 0..<count { y[i] *= factor }
    }
}
