/// A violation of TailForge's HDF5 data contracts, or an I/O failure, saying what went wrong, where (file,
/// dataset, row) and what to do about it.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input file does not exist.
    case missingFile(path: String)
    /// The file exists but is not an HDF5 file.
    case notHDF5(path: String)
    /// A required dataset is absent; `available` lists the datasets the file does contain.
    case missingDataset(file: String, dataset: String, available: [String])
    /// A dataset has the wrong number of dimensions.
    case wrongRank(file: String, dataset: String, expected: Int, shape: [Int])
    /// A dataset's elements are of the wrong class (for example strings where floats are expected).
    case wrongElementClass(file: String, dataset: String, expected: HDF5ElementClass, actual: HDF5ElementClass)
    /// Two datasets that must have one entry per row disagree on the number of rows.
    case rowCountMismatch(file: String, dataset: String, rows: Int, reference: String, referenceRows: Int)
    /// The embedding dimension is 0 or 1, too small for directions on a sphere.
    case dimensionTooSmall(file: String, dataset: String, dimension: Int)
    /// A label is negative.
    case negativeLabel(file: String, dataset: String, row: Int, value: Int64)
    /// A label is not below the number of classes (`classCount` nil: it does not fit in Int32).
    case labelOutOfRange(file: String, dataset: String, row: Int, value: Int64, classCount: Int?)
    /// An embedding row cannot be scaled to unit length (all zeros, NaN or infinite); `reason` says which.
    case badRow(file: String, dataset: String, row: Int, reason: String)
    /// A requested row range lies outside the dataset.
    case rowRangeOutOfBounds(file: String, dataset: String, range: Range<Int>, rows: Int)
    /// The directory that would hold the output does not exist.
    case outputDirectoryMissing(path: String, directory: String)
    /// The output cannot be written there (read-only, permissions, or the path is a directory).
    case outputNotWritable(path: String, reason: String)
    /// The output path names the same file as an input (directly, through a link, or by another spelling).
    case outputIsInput(path: String, input: String)
    /// A shard a virtual dataset would map is missing, so publishing is refused (HDF5 would show fill values).
    case missingShard(output: String, shard: String)
    /// A shard does not fit the others (dimension differs); `reason` says how.
    case shardMismatch(output: String, shard: String, reason: String)
    /// A virtual dataset maps a source file that is gone; reading it would silently return fill values.
    case missingVirtualSource(file: String, dataset: String, source: String)
    /// A virtual dataset's source file is there but does not hold the rows mapped from it (replaced, truncated,
    /// not HDF5); `reason` says how. Reading it would show fill values for the missing rows.
    case virtualSourceMismatch(file: String, dataset: String, source: String, reason: String)
    /// Writing the output failed part-way (typically the disk is full); the temporary file was removed.
    case writeFailed(path: String, underlying: HDF5Error)
    /// A POSIX call on a file failed.
    case ioFailed(path: String, operation: String, reason: String)
    /// A writer received more rows than announced, or was committed before receiving them all.
    case wrongRowCount(path: String, expected: Int, actual: Int)
    /// A caller passed inconsistent arguments (array lengths, shapes); a programming error.
    case invalidArgument(String)
    /// The file is shorter than the size HDF5 recorded when it was written: an interrupted copy or download.
    case truncatedFile(path: String, bytes: Int64)
    /// A compact balanced file where rows are read directly (a test or prediction input, balancing input).
    case compactLayout(path: String)
    /// A root attribute the contract requires is missing or has the wrong type.
    case missingAttribute(file: String, name: String)
    /// An unlabeled pool (`synth --unlabeled`: embeddings, no labels) where labelled rows are read.
    case unlabeledPool(path: String)
    /// Any other HDF5 failure, with the library's error stack.
    case hdf5(HDF5Error)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path): no such file. Check the path (and the working directory)."
        case .notHDF5(let path):
            return "\(path): not an HDF5 file. Convert the data to HDF5 (h5py: `h5py.File(path, 'w')`) first."
        case .missingDataset(let file, let dataset, let available):
            let list = available.isEmpty ? "none" : available.map { "/" + $0 }.joined(separator: ", ")
            return "\(file): no dataset '/\(dataset)' (the file has: \(list)). "
                + "Pass the right name with the dataset-name option."
        case .wrongRank(let file, let dataset, let expected, let shape):
            return "\(file):/\(dataset) has shape \(shape) (rank \(shape.count)); expected rank \(expected). "
                + "Reshape it before saving."
        case .wrongElementClass(let file, let dataset, let expected, let actual):
            return "\(file):/\(dataset) holds \(actual) values; expected \(expected). "
                + "Check that the dataset name points at the right data."
        case .rowCountMismatch(let file, let dataset, let rows, let reference, let referenceRows):
            return "\(file):/\(dataset) has \(rows) rows but /\(reference) has \(referenceRows); "
                + "they must have one entry per row. Re-export them together."
        case .dimensionTooSmall(let file, let dataset, let dimension):
            return "\(file):/\(dataset) has embedding dimension \(dimension); at least 2 is needed for "
                + "directions on a sphere. Check that the array is [N, d], not transposed or flattened."
        case .negativeLabel(let file, let dataset, let row, let value):
            return "\(file):/\(dataset) row \(row) has label \(value); labels must be in [0, C). Fix the labels."
        case .labelOutOfRange(let file, let dataset, let row, let value, let classCount):
            if let classCount {
                return "\(file):/\(dataset) row \(row) has label \(value), but there are only \(classCount) class "
                    + "names (labels must be in [0, \(classCount))). Fix the labels or the class-name list."
            }
            return "\(file):/\(dataset) row \(row) has label \(value), which does not fit in Int32. "
                + "Renumber the classes densely from 0."
        case .badRow(let file, let dataset, let row, let reason):
            return "\(file):/\(dataset) row \(row) \(reason); every embedding must be a finite, non-zero vector. "
                + "Remove or fix that row."
        case .rowRangeOutOfBounds(let file, let dataset, let range, let rows):
            return "\(file):/\(dataset): rows \(range) requested but the dataset has \(rows) rows."
        case .outputDirectoryMissing(let path, let directory):
            return "cannot write \(path): directory \(directory) does not exist. Create it first."
        case .outputNotWritable(let path, let reason):
            return "cannot write \(path): \(reason). Choose a writable location."
        case .outputIsInput(let path, let input):
            return "the output \(path) is the input \(input); writing it would destroy the input. Choose another output path."
        case .missingShard(let output, let shard):
            return "refusing to publish \(output): shard \(shard) is missing, and HDF5 would silently show fill values "
                + "for its rows. Recompute or restore the shard."
        case .shardMismatch(let output, let shard, let reason):
            return "cannot publish \(output): shard \(shard) \(reason). Recompute the shard with the same job."
        case .missingVirtualSource(let file, let dataset, let source):
            return "\(file):/\(dataset) is a virtual dataset over \(source), which is missing; its rows would read as "
                + "fill values. Restore the shard file next to \(file) (a virtual file and its shard directory are moved "
                + "and deleted together), or publish the job again."
        case .virtualSourceMismatch(let file, let dataset, let source, let reason):
            return "\(file):/\(dataset) is a virtual dataset over \(source), which \(reason); its rows would read as "
                + "fill values. Restore the shard file the job published, or publish the job again."
        case .writeFailed(let path, let underlying):
            return "writing \(path) failed (is the disk full?); nothing was left behind. Free space or choose "
                + "another location. Details: \(underlying.stack)"
        case .ioFailed(let path, let operation, let reason):
            return "\(operation) \(path) failed: \(reason)."
        case .wrongRowCount(let path, let expected, let actual):
            return "\(path): the writer was told \(expected) rows but received \(actual); this is a bug in the caller."
        case .invalidArgument(let message):
            return "invalid argument: \(message)"
        case .truncatedFile(let path, let bytes):
            return "\(path) is truncated: it has \(bytes) bytes, fewer than HDF5 wrote (an interrupted copy or download?). "
                + "Copy or re-create the file."
        case .compactLayout(let path):
            return "\(path) is a compact balanced file: it holds the real rows and the recipe, and only `train` and "
                + "`evaluate --train` regenerate its synthetic rows. Write the full file with `tailforge materialize \(path) --output FULL.h5` to use it here."
        case .missingAttribute(let file, let name):
            return "\(file): root attribute '\(name)' is missing or has the wrong type. Re-create the file with TailForge."
        case .unlabeledPool(let path):
            return "\(path) is an unlabeled pool (embeddings without labels, as `synth --unlabeled` writes): it cannot be read as "
                + "labelled rows. Pass the labelled training file here, and this one to `train --classifier vmf-mixture --unlabeled \(path)`."
        case .hdf5(let error):
            return error.description
        }
    }
}
