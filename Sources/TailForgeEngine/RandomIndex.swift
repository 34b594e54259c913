/// A uniform integer in `0..<bound` from the generator, by Lemire's multiply-and-reject method.
///
/// Written out here rather than using `Int.random(in:using:)` so that the draws, and so the output bytes,
/// cannot change with the standard library's implementation.
@inlinable
func uniformIndex(below bound: Int, using rng: inout some RandomNumberGenerator) -> Int {
    precondition(bound > 0)
    let range = UInt64(bound)
    var product = rng.next().multipliedFullWidth(by: range)
    if product.low < range {
        let threshold = (0 &- range) % range
        while product.low < threshold {
            product = rng.next().multipliedFullWidth(by: range)
        }
    }
    return Int(product.high)
}

/// A uniform double in [0, 1) with 53 random bits.
@inlinable
func uniformUnit(using rng: inout some RandomNumberGenerator) -> Double {
    Double(rng.next() >> 11) * 0x1.0p-53
}
