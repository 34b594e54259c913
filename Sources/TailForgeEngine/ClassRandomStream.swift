import TailForgeNumerics

/// The generator behind every random draw of one class (and of each stream of the synthetic data sets).
///
/// Eight xoshiro256++ lanes keyed from Philox4x32(seed, stream): keyed like a counter-based generator, so a
/// class's output is a pure function of (job seed, class id), and fast enough for the 767 normals of every
/// 768-d sample (the lanes advance in one vector register; see ``Xoshiro256PlusPlusLanes``).
public typealias ClassRandomStream = Xoshiro256PlusPlusLanes
