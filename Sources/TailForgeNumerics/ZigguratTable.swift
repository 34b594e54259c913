#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailForgeKernels

/// The 256-layer ziggurat for the standard normal (Marsaglia & Tsang 2000), in the "x-table" form.
///
/// Layer `i` is the box `[0, x[i]) × [f(x[i]), f(x[i+1]))` of area `v`, with `f(x) = exp(-x²/2)`,
/// `x[1] = r` (start of the tail) and `x[0] = v / f(r)` so the base layer (box plus tail) has area `v` too.
/// 256 layers rather than 128 halve the share of draws that leave the fast path (2.8% → 1.5%), each of
/// which costs an `exp`. `v` is computed from `r` (box plus exact tail area), which closes the recurrence at
/// the top layer to 1e-13 (the rounded published pair closes to only 1e-9).
/// Tables live in memory allocated once for the process and never written after construction, which is
/// why sharing them across threads is safe.
@usableFromInline
final class ZigguratTable: @unchecked Sendable {
    @usableFromInline static let layers = 256
    /// r for 256 layers (Marsaglia & Tsang 2000; digits as in the rand crate's `ZIG_NORM_R`).
    @usableFromInline static let tailStart = 3.654152885361008796

    @usableFromInline static let shared = ZigguratTable()

    /// x[0…256], x[256] = 0.
    @usableFromInline let x: UnsafeMutablePointer<Double>
    /// f(x[i]), f(x[256]) = 1.
    @usableFromInline let f: UnsafeMutablePointer<Double>
    /// The boxes for 32-bit draws: scale = x[i] · 2⁻²³ turns a 23-bit integer j into the point j·scale of
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
            layerBoxes[i] = tailforge_ziggurat_layer(scale: Float(x[i] * 0x1p-23), limit: Int32((x[i + 1] / x[i] * 0x1p23).rounded(.up)))
            doubleScale[i] = x[i] * 0x1p-53
        }
        kernelTables = .allocate(capacity: 1)
        kernelTables.initialize(to: tailforge_ziggurat(x: x, f: f, layers: layerBoxes))
    }
}
