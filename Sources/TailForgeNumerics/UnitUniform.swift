/// Uniform draws on the open interval (0, 1), safe to take the logarithm of.
@usableFromInline
enum UnitUniform {
    /// 53 random bits centred in their cell: never 0, never 1.
    @inlinable @inline(__always)
    static func next(using rng: inout some RandomNumberGenerator) -> Double {
        (Double(rng.next() >> 11) + 0.5) * 0x1p-53
    }
}
