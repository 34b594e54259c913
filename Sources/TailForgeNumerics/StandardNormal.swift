#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard normal draws by a 128-layer ziggurat: one table look-up, one multiply and one compare in about
/// 99% of draws.
///
/// ``fill(_:using:)`` spends 32 random bits per `Float` (7 layer bits, 1 sign bit, 24 position bits), so one
/// 64-bit generator output gives two draws; ``next(using:)`` spends 64 bits per `Double` (53 position bits).
/// Both are exact samplers: the rare wedge and tail cases are resolved without approximation.
public enum StandardNormal {
    @inlinable
    public static func next(using rng: inout some RandomNumberGenerator) -> Double {
        let table = ZigguratTable.shared
        while true {
            let bits = rng.next()
            let layer = Int(truncatingIfNeeded: bits & 0x7F)
            let negative = bits & 0x80 != 0
            let x = Double(bits >> 11) * table.doubleScale[layer]
            if x < table.x[layer + 1] { return negative ? -x : x }
            if let accepted = edgeCase(layer: layer, x: x, table: table, using: &rng) {
                return negative ? -accepted : accepted
            }
        }
    }

    @inlinable
    public static func fill(_ out: UnsafeMutableBufferPointer<Float>, using rng: inout some RandomNumberGenerator) {
        guard let base = out.baseAddress else { return }
        let table = ZigguratTable.shared
        let scale = table.floatScale, limit = table.floatLimit
        let count = out.count
        var i = 0
        while i + 1 < count {
            let bits = rng.next()
            base[i] = floatDraw(UInt32(truncatingIfNeeded: bits), scale: scale, limit: limit, table: table, using: &rng)
            base[i + 1] = floatDraw(UInt32(truncatingIfNeeded: bits >> 32), scale: scale, limit: limit, table: table, using: &rng)
            i += 2
        }
        if i < count {
            base[i] = floatDraw(UInt32(truncatingIfNeeded: rng.next()), scale: scale, limit: limit, table: table, using: &rng)
        }
    }

    @inlinable @inline(__always)
    static func floatDraw(
        _ bits: UInt32, scale: UnsafeMutablePointer<Float>, limit: UnsafeMutablePointer<UInt32>,
        table: ZigguratTable, using rng: inout some RandomNumberGenerator
    ) -> Float {
        let layer = Int(truncatingIfNeeded: bits & 0x7F)
        let position = bits >> 8
        let x = Float(position) * scale[layer]
        if _fastPath(position < limit[layer]) {
            // The sign bit (bit 7) moves to bit 31 of the result.
            return Float(bitPattern: x.bitPattern | ((bits & 0x80) << 24))
        }
        return floatSlowDraw(bits, table: table, using: &rng)
    }

    /// Outside the box of the chosen layer: wedge test or tail, and on rejection a fresh exact draw.
    @inlinable @inline(never)
    static func floatSlowDraw(_ bits: UInt32, table: ZigguratTable, using rng: inout some RandomNumberGenerator) -> Float {
        let layer = Int(truncatingIfNeeded: bits & 0x7F)
        let x = Double(bits >> 8) * table.x[layer] * 0x1p-24
        let sample = edgeCase(layer: layer, x: x, table: table, using: &rng) ?? abs(next(using: &rng))
        return Float(bits & 0x80 != 0 ? -sample : sample)
    }

    /// For a point `x` of `layer` that fell outside the layer's box: the accepted magnitude, or nil to redraw.
    @inlinable
    static func edgeCase(layer: Int, x: Double, table: ZigguratTable, using rng: inout some RandomNumberGenerator) -> Double? {
        if layer == 0 {
            // Tail beyond r (Marsaglia 1964).
            let r = ZigguratTable.tailStart
            while true {
                let a = -log(UnitUniform.next(using: &rng)) / r
                let b = -log(UnitUniform.next(using: &rng))
                if b + b >= a * a { return r + a }
            }
        }
        let low = table.f[layer], high = table.f[layer + 1]
        let y = low + UnitUniform.next(using: &rng) * (high - low)
        return y < exp(-0.5 * x * x) ? x : nil
    }
}
