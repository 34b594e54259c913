import Testing

/// Each output bit of `rng` should be 1 half the time: 64 × 20,000 bits, bound 5 standard errors per bit position.
func expectBalancedBits(_ rng: inout some RandomNumberGenerator) {
    let n = 20_000
    var ones = [Int](repeating: 0, count: 64)
    for _ in 0..<n {
        let x = rng.next()
        for bit in 0..<64 where x >> bit & 1 == 1 { ones[bit] += 1 }
    }
    let bound = 5 * (Double(n) * 0.25).squareRoot()
    for bit in 0..<64 { #expect(abs(Double(ones[bit]) - Double(n) / 2) < bound, "bit \(bit)") }
}
