/// exp(x) for x ≤ 0 in float32, branch-free so the softmax loop vectorises (glibc's `expf` is a call per
/// element and was a visible share of a pass next to the GEMMs).
///
/// Cephes' `expf` scheme: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2ⁿ built in the
/// exponent bits. Relative error ≤ 2 ulp on [−87, 0]; inputs below −87 return ≈ 1.6e-38 instead of
/// underflowing, which is 0 for every sum it enters.
@inline(__always)
func fastExp(_ value: Float) -> Float {
    let x = max(value, -87)
    // Adding 1.5·2²³ rounds x·log₂e to an integer n held in the low mantissa bits of t.
    let t = x * 1.442_695_04 + 12_582_912
    let n = t - 12_582_912
    let r = (x - n * 0.693_359_375) - n * -2.121_944_4e-4
    let z = r * r
    let p = (((((1.987_569_15e-4 * r + 1.398_199_950_7e-3) * r + 8.333_451_907_3e-3) * r + 4.166_579_589_4e-2) * r
        + 1.666_666_545_9e-1) * r + 5.000_000_120_1e-1) * z + r + 1
    // (n + 127) << 23 is 2ⁿ as a float32; the subtraction recovers n from t's bits, wrapping for n < 0.
    let scale = Float(bitPattern: (t.bitPattern &- 0x4B40_0000) &<< 23 &+ 0x3F80_0000)
    return p * scale
}
