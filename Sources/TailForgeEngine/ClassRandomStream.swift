import TailForgeNumerics

/// The generator behind every random draw of one class (and of each stream of the synthetic data sets).
///
/// xoshiro256++ keyed from Philox4x32(seed, stream): keyed like a counter-based generator, so a class's
/// output is a pure function of (job seed, class id), and fast enough for hundreds of normals per sample.
public typealias ClassRandomStream = Xoshiro256PlusPlus
