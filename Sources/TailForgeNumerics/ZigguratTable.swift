#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailForgeKernels

/// The ziggurat for the standard normal (Marsaglia & Tsang 2000), in the "x-table" form, with
/// 2^`TAILFORGE_ZIGGURAT_LAYER_BITS` layers (the C header fixes the count for both languages).
///
/// Layer `i` is the box `[0, x[i]) × [f(x[i]), f(x[i+1]))` of area `v`, with `f(x) = exp(-x²/2)`,
/// `x[1] = r` (start of the tail) and `x[0] = v / f(r)` so the base layer (box plus tail) has area `v` too.
/// More layers shrink the share of draws that leave the fast path (128: 2.8%, 256: 1.5%, 512: 0.8%,
/// 1024: 0.43%), each of which costs about as much as twenty in the box. `v` is computed from `r` (box plus
/// exact tail area), which closes the recurrence at the top layer to 1e-13 (the rounded published pair for 256
/// layers closes to only 1e-9).
/// Tables live in memory allocated once for the process and never written after construction, which is
/// why sharing them across threads is safe.
@usableFromInline
final class ZigguratTable: @unchecked Sendable {
    /// log2 of the layer count.
    @inlinable static var layerBits: Int { Int(TAILFORGE_ZIGGURAT_LAYER_BITS) }
    @inlinable static var layers: Int { 1 << layerBits }
    /// Position bits of a 32-bit draw (after the layer bits and the sign bit).
    @inlinable static var positionBits: Int { 31 - layerBits }
    /// r, where the tail starts: the root of the recurrence's closure x[n−1]·(1 − f(x[n−1])) = v, found by
    /// bisection in 60-digit arithmetic (mpmath); the 256-layer value agrees with Marsaglia & Tsang's and the
    /// rand crate's `ZIG_NORM_R` to the last digit a Double holds.
    @usableFromInline static var tailStart: Double {
        switch layerBits {
        case 8: 3.654152885361008772
        case 9: 3.852046150368391248
        case 10: 4.038849846109504523
        default: fatalError("no tail start for 2^\(layerBits) ziggurat layers")
        }
    }

    @usableFromInline static let shared = ZigguratTable()

    /// x[0…n], x[n] = 0.
    @usableFromInline let x: UnsafeMutablePointer<Double>
    /// f(x[i]), f(x[n]) = 1.
    @usableFromInline let f: UnsafeMutablePointer<Double>
    /// The boxes for 32-bit draws: scale = x[i] · 2^−positionBits turns a position j into the point j·scale of
    /// layer i, inside the box (no wedge test needed) when j < limit.
    @usableFromInline let layerBoxes: UnsafeMutablePointer<tailforge_ziggurat_layer>
    /// x[i] · 2⁻⁵³ for the 53-bit Double path.
    @usableFromInline let doubleScale: UnsafeMutablePointer<Double>
    /// x, f and the boxes as the C loops take them.
    @usableFromInline let kernelTables: UnsafeMutablePointer<tailforge_ziggurat>

    private init() {
        let n = Self.layers
        x = .allocate(capacity: n + 1)
        f = .allocate(capacity: n + 1)
        layerBoxes = .allocate(capacity: n)
        doubleScale = .allocate(capacity: n)
        let r = Self.tailStart
        let v = r * exp(-0.5 * r * r) + (Double.pi / 2).squareRoot() * erfc(r / 2.0.squareRoot())
        x[0] = v / exp(-0.5 * r * r)
        x[1] = r
        for i in 1..<(n - 1) {
            x[i + 1] = (-2 * log(exp(-0.5 * x[i] * x[i]) + v / x[i])).squareRoot()
        }
        x[n] = 0
        for i in 0...n { f[i] = exp(-0.5 * x[i] * x[i]) }
        for i in 0..<n {
            let unit = Double(sign: .plus, exponent: -Self.positionBits, significand: 1)
            layerBoxes[i] = tailforge_ziggurat_layer(scale: Float(x[i] * unit), limit: Int32((x[i + 1] / x[i] / unit).rounded(.up)))
            doubleScale[i] = x[i] * 0x1p-53
        }
        kernelTables = .allocate(capacity: 1)
        kernelTables.initialize(to: tailforge_ziggurat(x: x, f: f, layers: layerBoxes))
    }
}
