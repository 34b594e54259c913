import Foundation
import Testing
import TailForgeNumerics

/// The fast log C_d(κ) (Debye expansion from d = 100, the integrated Bessel ratio below) against 50-digit values
/// and against ``VonMisesFisherNormalizer``.
@Suite struct VonMisesFisherLogNormalizerTests {
    /// log C_d(κ) = (d/2 − 1) log κ − (d/2) log 2π − log I_{d/2−1}(κ) from mpmath 1.3.0 at 50 digits
    /// (`mp.besseli`), printed to 20 significant digits.
    static let reference: [(Int, [(Double, Double)])] = [
        (64, [
            (1e-3, 40.76772001776205975),
            (0.1, 40.767641900667036976),
            (1, 40.759908450066447983),
            (10, 39.995445821914284201),
            (50, 24.748380226565230553),
            (100, -8.0407654391750639578),
            (383, -252.27482952767672863),
            (1000, -839.81825944048150455),
            (1e4, -9767.7193660110008568),
            (1e5, -99695.231171671351658),
            (1e6, -999622.7040646407796),
            (1e7, -9999550.1730665492049),
        ]),
        (100, [
            (1e-3, 86.636102468314931993),
            (0.1, 86.636052473339441765),
            (1, 86.631102718381553961),
            (10, 86.138522577463650114),
            (50, 75.321915356057088655),
            (100, 48.814505688995299723),
            (383, -176.41322918939082697),
            (1000, -747.84029338762033659),
            (1e4, -9634.9430231121866363),
            (1e5, -99521.073100461457102),
            (1e6, -999407.10594179243109),
            (1e7, -9999293.1290600273198),
        ]),
        (128, [
            (1e-3, 127.05345652045372022),
            (0.1, 127.05341746187170775),
            (1, 127.04955039172600915),
            (10, 126.66399611506201988),
            (50, 117.90685868532626415),
            (100, 95.061468821697638908),
            (383, -116.8287329033090268),
            (1000, -676.07802280030576977),
            (1e4, -9531.6501333301183115),
            (1e5, -99385.614582842820502),
            (1e6, -999239.4182889102705),
            (1e7, -9999093.2059214436302),
        ]),
        (768, [
            (1e-3, 1458.7211511170571003),
            (0.1, 1458.7211446072915304),
            (1, 1458.7205000765919355),
            (10, 1458.6560524544176205),
            (50, 1457.0969681435091912),
            (100, 1452.2645803391845676),
            (383, 1372.341101314376432),
            (1000, 1016.8174137588337676),
            (1e4, -7165.3264144972812043),
            (1e5, -96288.885492631235147),
            (1e6, -995406.50421157790922),
            (1e7, -9994523.5288383876025),
        ]),
    ]

    /// Measured (this suite, debug build, commit of the normaliser): the Debye expansion is within 6.6e-11 (d = 100)
    /// and 1.5e-11 (d = 128, 768) of the 50-digit values, apart from the rounding of values near −1e7 (one ulp is
    /// 1.9e-9 there); the integrated Bessel ratio at d = 64 within 4e-8 absolute, 2.5e-10 relative. The bounds:
    /// 1e-10 plus 4 ulps of the value from d = 100, 1e-9 relative below.
    static func close(_ a: Double, _ b: Double, dimension: Int) -> Bool {
        dimension >= VonMisesFisherLogNormalizer.debyeDimension ? abs(a - b) <= 1e-10 + 4 * b.ulp.magnitude
            : abs(a - b) <= 1e-9 * max(1, abs(b))
    }

    @Test(arguments: reference.map(\.0))
    func matchesFiftyDigitValues(dimension: Int) {
        let normalizer = VonMisesFisherLogNormalizer(dimension: dimension)
        for (kappa, expected) in Self.reference.first(where: { $0.0 == dimension })!.1 {
            let got = normalizer.logNormalizer(kappa: kappa)
            #expect(Self.close(got, expected, dimension: dimension), "d \(dimension) κ \(kappa): \(got) vs \(expected), difference \(got - expected)")
        }
    }

    /// Against the integrated Bessel ratio: within 1e-9 relative (measured 5.6e-10 at d = 128, 2.8e-10 at d = 768,
    /// mostly the table's own error: it is 2.5e-10 relative off the 50-digit values at d = 64).
    @Test(arguments: [128, 768])
    func matchesTheIntegratedBesselRatio(dimension: Int) {
        let fast = VonMisesFisherLogNormalizer(dimension: dimension), exact = VonMisesFisherNormalizer(dimension: dimension)
        var largest = 0.0
        for step in 0 ... 60 {
            let kappa = pow(10, Double(step) / 10)
            let a = fast.logNormalizer(kappa: kappa), b = exact.logNormalizer(kappa: kappa)
            largest = max(largest, abs(a - b) / max(1, abs(b)))
        }
        #expect(largest <= 1e-9, "d \(dimension): largest relative difference \(largest)")
    }

    @Test func atZeroItIsTheUniformDensity() {
        for dimension in [100, 128, 768, 4096] {
            let got = VonMisesFisherLogNormalizer(dimension: dimension).logNormalizer(kappa: 0)
            let expected = VonMisesFisherNormalizer(dimension: dimension).logUniform
            #expect(abs(got - expected) <= 1e-9 * max(1, abs(expected)), "d \(dimension): \(got) vs \(expected)")
        }
    }

    @Test(arguments: [16, 768])
    func manyAtOnceEqualOneAtATime(dimension: Int) {
        let normalizer = VonMisesFisherLogNormalizer(dimension: dimension)
        let kappas = (0 ..< 50).map { pow(10, Double($0) / 7 - 2) }
        var out = [Double](repeating: 0, count: kappas.count)
        kappas.withUnsafeBufferPointer { k in out.withUnsafeMutableBufferPointer { normalizer.logNormalizers(k, into: $0) } }
        #expect(out == kappas.map { normalizer.logNormalizer(kappa: $0) })
    }
}
