import Synchronization
import TailForgeNumerics

/// Generates CLIP-like latent data sets on the unit sphere, deterministically from a seed, so the demo, tests
/// and benchmarks have realistic long-tailed data without downloads.
///
/// The geometry mimics what pooled embeddings of a vision foundation model look like:
/// - a shared direction every embedding leans towards (real CLIP features are far from isotropic);
/// - superclasses of `superclassSize` classes whose means are close to each other (confusable pairs, the
///   "poodle vs pembroke" failure mode);
/// - each class a mixture of 1–3 vMF sub-clusters (modes), each sample a vMF draw around one mode.
/// Each class's draws use their own generator streams, so class c's data does not depend on other classes.
public struct SyntheticLatentGenerator: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var dimension: Int
        public var trainCounts: [Int]
        public var testPerClass: Int
        public var superclassSize = 5
        /// Weight of the shared direction in each superclass centre (cosine between superclasses ≈ w²/(1+w²)).
        public var sharedWeight = 0.8
        /// Concentration of class means around their superclass centre (× dimension). 60·d puts sibling classes at
        /// cosine ≈ 0.975: with the sample spread below, a linear classifier on the CIFAR-100-LT shape reaches
        /// 56 % top-1 trained on the long-tailed set and 91.5 % once vMF-balanced (`tailforge-bench method`),
        /// close to the paper's 89.0 % — data that is neither trivially separable nor hopeless.
        public var classKappaPerDimension = 60.0
        /// Concentration of a class's modes around the class mean.
        public var modeKappaPerDimension = 3.0
        /// Concentration of samples around their mode, drawn per class in this range (× dimension); 0.3–0.6·d is a
        /// mean cosine of about 0.28–0.5 to the mode.
        public var sampleKappaPerDimension: ClosedRange<Double> = 0.3...0.6

        public var classes: Int { trainCounts.count }

        public init(dimension: Int, trainCounts: [Int], testPerClass: Int) {
            self.dimension = dimension
            self.trainCounts = trainCounts
            self.testPerClass = testPerClass
        }
    }

    public let configuration: Configuration
    public let seed: UInt64

    public init(_ configuration: Configuration, seed: UInt64) {
        self.configuration = configuration
        self.seed = seed
    }

    /// Streams: 0 shared geometry; 1<<32 + s superclass s; 2<<32 + c class c's geometry; 3<<32 + c train rows;
    /// 4<<32 + c test rows; 5<<32 + c unlabeled-pool rows; 6<<32 the pool's row order.
    private func rng(_ domain: UInt64, _ index: Int) -> ClassRandomStream {
        ClassRandomStream(seed: seed, stream: domain << 32 | UInt64(index))
    }

    /// What the generator drew for one class before any row: the parameters a row's distribution has. Exported for
    /// analyses that need the truth (`tailforge-bench geometry`, the Bayes bound of Scripts/bayes-bound); the
    /// library itself only samples from it.
    public struct ClassGeometry: Sendable, Equatable {
        /// The superclass centre, unit norm: μ_c is a vMF(centre, `classKappaPerDimension`·d) draw.
        public var centre: [Float]
        /// The class mean direction μ_c, unit norm: the modes are vMF(μ_c, `modeKappaPerDimension`·d) draws.
        public var mean: [Float]
        /// 1–3 unit-norm mode directions, one per matrix row; each row of the class is a vMF draw around one of them,
        /// chosen uniformly.
        public var modes: Matrix
        /// κ_c of the rows around their mode (absolute, not per dimension).
        public var sampleKappa: Double
    }

    /// Class `c`'s superclass centre, mean, modes and sample concentration.
    public func geometry(ofClass c: Int) -> ClassGeometry {
        let cfg = configuration
        let d = cfg.dimension
        let vmf = VonMisesFisherSampler(dimension: d)

        var shared = rng(0, 0)
        var g = [Float](repeating: 0, count: d)
        randomUnitVector(&g, using: &shared)

        var superRNG = rng(1, c / cfg.superclassSize)
        var superCentre = [Float](repeating: 0, count: d)
        randomUnitVector(&superCentre, using: &superRNG)
        for j in 0..<d { superCentre[j] = superCentre[j] + Float(cfg.sharedWeight) * g[j] }
        normalize(&superCentre)

        var classRNG = rng(2, c)
        var mean = [Float](repeating: 0, count: d)
        vmfDraw(vmf, around: superCentre, kappa: cfg.classKappaPerDimension * Double(d), into: &mean, using: &classRNG)
        let modeCount = 1 + uniformIndex(below: 3, using: &classRNG)
        var modeRows = [Float]()
        for _ in 0..<modeCount {
            var mode = [Float](repeating: 0, count: d)
            vmfDraw(vmf, around: mean, kappa: cfg.modeKappaPerDimension * Double(d), into: &mode, using: &classRNG)
            modeRows.append(contentsOf: mode)
        }
        let modes = Matrix(rows: modeCount, columns: d, storage: modeRows)
        let r = cfg.sampleKappaPerDimension
        let sampleKappa = (r.lowerBound + (r.upperBound - r.lowerBound) * uniformUnit(using: &classRNG)) * Double(d)
        return ClassGeometry(centre: superCentre, mean: mean, modes: modes, sampleKappa: sampleKappa)
    }

    /// The three row streams of every class: the same law (a mode drawn uniformly, then a vMF draw around it),
    /// independent draws.
    public enum Split: UInt64, Sendable {
        case train = 3, test = 4
        /// An unlabeled pool (``unlabeledPool(counts:threads:)``).
        case unlabeled = 5
    }

    /// `count` unit-norm rows of class `c`, from the train (`test: false`) or test stream.
    public func rows(ofClass c: Int, count: Int, test: Bool) -> Matrix {
        rowsWithModes(ofClass: c, count: count, split: test ? .test : .train).rows
    }

    /// As ``rows(ofClass:count:test:)``, with the index into ``ClassGeometry/modes`` each row was drawn around.
    public func rowsWithModes(ofClass c: Int, count: Int, test: Bool) -> (rows: Matrix, modes: [Int]) {
        rowsWithModes(ofClass: c, count: count, split: test ? .test : .train)
    }

    /// `count` rows of class `c` from `split`'s stream, with the mode each was drawn around.
    public func rowsWithModes(ofClass c: Int, count: Int, split: Split) -> (rows: Matrix, modes: [Int]) {
        let geometry = geometry(ofClass: c)
        let (modes, kappa) = (geometry.modes, geometry.sampleKappa)
        let d = configuration.dimension
        let vmf = VonMisesFisherSampler(dimension: d)
        var r = rng(split.rawValue, c)
        var out = Matrix(rows: count, columns: d)
        var drawn = [Int]()
        drawn.reserveCapacity(count)
        modes.storage.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<count {
                    let mode = uniformIndex(below: modes.rows, using: &r)
                    drawn.append(mode)
                    vmf.sample(mean: UnsafeBufferPointer(rebasing: m[mode * d ..< (mode + 1) * d]), kappa: kappa,
                               into: UnsafeMutableBufferPointer(rebasing: o[i * d ..< (i + 1) * d]), using: &r)
                }
            }
        }
        return (out, drawn)
    }

    /// A whole split, class-major: `counts[c]` rows of each class c, generated on `threads` threads.
    public func split(counts: [Int], test: Bool, threads: Int) -> (embeddings: Matrix, labels: [Int32]) {
        split(counts: counts, of: test ? .test : .train, threads: threads)
    }

    /// An unlabeled pool: `counts[c]` rows of each class c from the pool stream, in an order drawn on its own stream
    /// (a Fisher–Yates shuffle), so the order says nothing of the classes. `labels` are the hidden truth, for
    /// analyses; the pool file does not store them.
    public func unlabeledPool(counts: [Int], threads: Int) -> (embeddings: Matrix, labels: [Int32]) {
        let (classMajor, labels) = split(counts: counts, of: .unlabeled, threads: threads)
        var order = Array(labels.indices)
        var r = rng(6, 0)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, uniformIndex(below: i + 1, using: &r)) }
        return (classMajor.gatherRows(order), order.map { labels[$0] })
    }

    /// As ``split(counts:test:threads:)`` from any split's stream.
    public func split(counts: [Int], of split: Split, threads: Int) -> (embeddings: Matrix, labels: [Int32]) {
        let blocks = ConcurrentResults<Matrix>(count: counts.count)
        ComputePool.forEach(counts.count, width: threads) { c in blocks.set(c, rowsWithModes(ofClass: c, count: counts[c], split: split).rows) }
        var storage = [Float]()
        storage.reserveCapacity(counts.reduce(0, +) * configuration.dimension)
        var labels = [Int32]()
        for (c, block) in blocks.values.enumerated() {
            storage.append(contentsOf: block!.storage)
            labels.append(contentsOf: repeatElement(Int32(c), count: counts[c]))
        }
        return (Matrix(rows: labels.count, columns: configuration.dimension, storage: storage), labels)
    }

    private func vmfDraw(_ vmf: VonMisesFisherSampler, around mean: [Float], kappa: Double, into out: inout [Float], using r: inout ClassRandomStream) {
        mean.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in vmf.sample(mean: m, kappa: kappa, into: o, using: &r) }
        }
    }

    private func randomUnitVector(_ v: inout [Float], using r: inout ClassRandomStream) {
        repeat {
            v.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &r) }
        } while v.allSatisfy { $0 == 0 }
        normalize(&v)
    }

    private func normalize(_ v: inout [Float]) {
        _ = v.withUnsafeMutableBufferPointer { normalizeInPlace($0) }
    }
}
