import CHDF5

/// Publishes a balanced dataset (the `BalancedDatasetWriter` contract) without copying rows: each of its
/// datasets is an HDF5 virtual dataset that stitches blocks of rows of the same dataset of shard files, in the
/// order given (whole shards in shard order, or the cluster's class blocks in class order).
///
/// HDF5 shows fill values for a virtual dataset's rows whose source file is missing, silently, so publishing
/// is refused unless every shard exists, satisfies the contract and holds the rows mapped from it, and every
/// TailForge reader re-checks the sources whenever it opens a virtual dataset (`checkVirtualSources`). The fill
/// values are ones no balanced file holds (NaN embeddings and κ, label −1, `is_synthetic` 255,
/// `source_index` −1), so a reader that does not check (h5py) sees holes as invalid rows, not as zeros.
/// Shard paths are stored as given: pass them relative to the output's directory so the output and its
/// shards can be moved together.
public enum VirtualBalancedDataset {
    /// Names of the per-row datasets, with their on-disk kinds, in the order they are created.
    static let rowDatasets: [(name: String, kind: HDF5ElementKind)] = [
        ("embeddings", .float32), ("labels", .int32), ("is_synthetic", .uint8), ("source_index", .int64),
        ("kappa", .float32),
    ]

    /// Rows `rows` of shard file `shard` (relative to the output's directory, or absolute), placed next in
    /// the output.
    public struct Block: Sendable, Equatable {
        public var shard: String
        public var rows: Range<Int>
        public init(shard: String, rows: Range<Int>) { self.shard = shard; self.rows = rows }
    }

    /// The directory beside `output` where a cluster job keeps the shard files a virtual output maps:
    /// `OUT.shards` for `OUT.h5` (named like the resolved manifest `OUT.manifest.json`).
    public static func shardDirectory(forOutput output: String) -> String {
        let slash = output.lastIndex(of: "/").map { output.index(after: $0) } ?? output.startIndex
        let name = output[slash...]
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return output + ".shards" }
        return String(output[..<dot]) + ".shards"
    }

    /// Writes `path` atomically as virtual datasets over whole `shards` (paths relative to `path`'s directory,
    /// or absolute), in order. Returns the number of rows.
    @discardableResult
    public static func publish(
        path: String, shards: [String], attributes: [String: AttributeValue], classNames: [String]?
    ) throws(StorageError) -> Int {
        guard !shards.isEmpty else { throw .invalidArgument("publishing \(path) needs at least one shard") }
        let inspected = try inspect(shards, output: path)
        let blocks = shards.map { Block(shard: $0, rows: 0..<inspected.rows[$0]!) }
        return try write(path: path, blocks: blocks, inspected: inspected, attributes: attributes, classNames: classNames)
    }

    /// Writes `path` atomically as virtual datasets over `blocks`, in order (adjacent blocks of one shard are
    /// merged into one mapping). Returns the number of rows.
    @discardableResult
    public static func publish(
        path: String, blocks: [Block], attributes: [String: AttributeValue], classNames: [String]?
    ) throws(StorageError) -> Int {
        guard !blocks.isEmpty else { throw .invalidArgument("publishing \(path) needs at least one block of rows") }
        var shards: [String] = []
        for block in blocks where !shards.contains(block.shard) { shards.append(block.shard) }
        let inspected = try inspect(shards, output: path)
        return try write(path: path, blocks: blocks, inspected: inspected, attributes: attributes, classNames: classNames)
    }

    /// Every shard's row count and the common dimension; refuses a missing shard, one that breaks the
    /// contract, and shards of different dimensions.
    private static func inspect(_ shards: [String], output: String) throws(StorageError) -> (rows: [String: Int], dimension: Int) {
        try AtomicHDF5Writer.checkWritable(path: output)
        let directory = POSIXFile.directory(of: output)
        var dimension: Int?
        var rows: [String: Int] = [:]
        for shard in shards where rows[shard] == nil {
            let resolved = shard.hasPrefix("/") ? shard : directory + "/" + shard
            guard POSIXFile.exists(resolved) else { throw .missingShard(output: output, shard: shard) }
            let contents = try BalancedDatasetFile(path: resolved)
            if let dimension, contents.dimension != dimension {
                throw .shardMismatch(
                    output: output, shard: shard, reason: "has dimension \(contents.dimension), the others \(dimension)")
            }
            dimension = contents.dimension
            rows[shard] = contents.count
        }
        return (rows, dimension!)
    }

    private static func write(
        path: String, blocks: [Block], inspected: (rows: [String: Int], dimension: Int),
        attributes: [String: AttributeValue], classNames: [String]?
    ) throws(StorageError) -> Int {
        var placements: [VirtualSource] = []
        var total = 0
        for block in blocks where !block.rows.isEmpty {
            let rows = inspected.rows[block.shard]!
            guard block.rows.lowerBound >= 0, block.rows.upperBound <= rows else {
                throw .shardMismatch(output: path, shard: block.shard,
                                     reason: "has \(rows) rows, and the output maps its rows \(block.rows.lowerBound)..<\(block.rows.upperBound)")
            }
            let target = total..<(total + block.rows.count)
            if let last = placements.last, last.file == block.shard, last.sourceRows.upperBound == block.rows.lowerBound {
                placements[placements.count - 1].sourceRows = last.sourceRows.lowerBound..<block.rows.upperBound
                placements[placements.count - 1].targetRows = last.targetRows.lowerBound..<target.upperBound
            } else {
                placements.append(VirtualSource(file: block.shard, fileRows: rows, sourceRows: block.rows, targetRows: target))
            }
            total = target.upperBound
        }
        let output = try AtomicHDF5Writer(path: path)
        try output.writeAttributes(attributes)
        if let classNames { try output.writeStrings("class_names", classNames) }
        for (name, kind) in rowDatasets {
            let shape = name == "embeddings" ? [total, inspected.dimension] : [total]
            try output.mapWriteFailure { () throws(StorageError) in
                try output.file.createVirtualDataset(name, kind: kind, shape: shape, sources: placements)
            }
        }
        try output.commit()
        return total
    }
}

/// One mapping of a virtual dataset: rows `sourceRows` of the same-named dataset (of `fileRows` rows) of
/// `file` appear as rows `targetRows`.
struct VirtualSource {
    var file: String
    var fileRows: Int
    var sourceRows: Range<Int>
    var targetRows: Range<Int>
}

extension HDF5File {
    /// Creates a virtual dataset of `shape` from `sources`, its fill value one no balanced file holds.
    func createVirtualDataset(
        _ name: String, kind: HDF5ElementKind, shape: [Int], sources: [VirtualSource]
    ) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let context = "\(path):/\(name)"
        let create = try HDF5PropertyList(class: tf_H5P_DATASET_CREATE(), context: context)
        try h5check(H5Pset_obj_track_times(create.id, false), .propertyList, context)
        try kind.withHoleFillValue { (value) throws(StorageError) in
            try h5check(H5Pset_fill_value(create.id, kind.nativeType, value), .propertyList, context)
        }
        for source in sources {
            let target = try HDF5Dataspace(dimensions: shape, context: context)
            try target.selectRows(source.targetRows, shape: shape, context: context)
            let sourceShape = [source.fileRows] + shape.dropFirst()
            let sourceSpace = try HDF5Dataspace(dimensions: sourceShape, context: context)
            try sourceSpace.selectRows(source.sourceRows, shape: sourceShape, context: context)
            try h5check(H5Pset_virtual(create.id, target.id, source.file, name, sourceSpace.id), .propertyList, context)
        }
        let space = try HDF5Dataspace(dimensions: shape, context: context)
        let id = try h5id(
            H5Dcreate2(self.id, name, kind.fileType, space.id, tf_H5P_DEFAULT(), create.id, tf_H5P_DEFAULT()),
            .createDataset, context)
        _ = H5Dclose(id)
    }
}

extension HDF5ElementKind {
    /// Calls `body` with a pointer to this kind's hole fill value: NaN for floats, −1 for signed integers,
    /// 255 for `uint8` (`is_synthetic` is 0 or 1).
    func withHoleFillValue(_ body: (UnsafeRawPointer) throws(StorageError) -> Void) throws(StorageError) {
        switch self {
        case .float32: var v = Float.nan; try withUnsafeBytes(of: &v) { (p) throws(StorageError) in try body(p.baseAddress!) }
        case .float64: var v = Double.nan; try withUnsafeBytes(of: &v) { (p) throws(StorageError) in try body(p.baseAddress!) }
        case .int32: var v = Int32(-1); try withUnsafeBytes(of: &v) { (p) throws(StorageError) in try body(p.baseAddress!) }
        case .int64: var v = Int64(-1); try withUnsafeBytes(of: &v) { (p) throws(StorageError) in try body(p.baseAddress!) }
        case .uint8: var v = UInt8.max; try withUnsafeBytes(of: &v) { (p) throws(StorageError) in try body(p.baseAddress!) }
        }
    }
}

extension HDF5Dataset {
    /// For a virtual dataset, its mappings in order: the source file (as stored: "." is this file), the source
    /// dataset, and how many rows of it the mapping needs (its selection's last row + 1); empty otherwise.
    var virtualMappings: [(file: String, dataset: String, rowsNeeded: Int)] {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let create = H5Dget_create_plist(id)
        guard create >= 0 else { return [] }
        defer { _ = H5Pclose(create) }
        guard H5Pget_layout(create) == H5D_VIRTUAL else { return [] }
        var count = 0
        guard H5Pget_virtual_count(create, &count) >= 0 else { return [] }
        func text(_ get: (UnsafeMutablePointer<CChar>?, Int) -> Int) -> String? {
            let length = get(nil, 0)
            guard length >= 0 else { return nil }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = get(&buffer, buffer.count)
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        var mappings: [(file: String, dataset: String, rowsNeeded: Int)] = []
        for index in 0..<count {
            guard let file = text({ H5Pget_virtual_filename(create, index, $0, $1) }),
                  let dataset = text({ H5Pget_virtual_dsetname(create, index, $0, $1) }) else { continue }
            var rowsNeeded = 0
            let space = H5Pget_virtual_srcspace(create, index)
            if space >= 0 {
                let rank = Int(H5Sget_simple_extent_ndims(space))
                if rank > 0 {
                    var start = [hsize_t](repeating: 0, count: rank), end = [hsize_t](repeating: 0, count: rank)
                    if H5Sget_select_npoints(space) > 0, H5Sget_select_bounds(space, &start, &end) >= 0 { rowsNeeded = Int(end[0]) + 1 }
                }
                _ = H5Sclose(space)
            }
            mappings.append((file, dataset, rowsNeeded))
        }
        return mappings
    }

    /// For a virtual dataset, the source file names it maps (as stored: "." is this file); empty otherwise.
    public var virtualSourceFiles: [String] {
        var names: [String] = []
        for mapping in virtualMappings where !names.contains(mapping.file) { names.append(mapping.file) }
        return names
    }

    /// The fill-hole check of a virtual dataset, run whenever a TailForge reader opens one: HDF5 reads fill values,
    /// silently, for rows whose source file is missing or shorter than the mapping. Throws
    /// `missingVirtualSource` when a source file is gone and `virtualSourceMismatch` when it is not HDF5, lacks the
    /// dataset or has fewer rows than mapped from it. (Cheap: opens each source file once, reads no rows.)
    func checkVirtualSources() throws(StorageError) {
        let mappings = virtualMappings.filter { $0.file != "." }
        guard !mappings.isEmpty else { return }
        let directory = POSIXFile.directory(of: file.path)
        var order: [String] = []
        var needed: [String: [String: Int]] = [:]
        for mapping in mappings {
            if needed[mapping.file] == nil { order.append(mapping.file) }
            needed[mapping.file, default: [:]][mapping.dataset] = max(needed[mapping.file]?[mapping.dataset] ?? 0, mapping.rowsNeeded)
        }
        for source in order {
            let candidates = source.hasPrefix("/") ? [source] : [directory + "/" + source, source]
            guard let found = candidates.first(where: POSIXFile.exists) else {
                throw .missingVirtualSource(file: file.path, dataset: name, source: source)
            }
            func mismatch(_ reason: String) -> StorageError {
                .virtualSourceMismatch(file: file.path, dataset: name, source: source, reason: reason)
            }
            let opened: HDF5File
            do { opened = try HDF5File.open(path: found) } catch { throw mismatch("cannot be opened (\(error))") }
            for (dataset, rows) in needed[source]!.sorted(by: { $0.key < $1.key }) {
                guard opened.contains(dataset), let sourceDataset = try? opened.openDataset(dataset) else {
                    throw mismatch("has no dataset /\(dataset)")
                }
                guard sourceDataset.rowCount >= rows else {
                    throw mismatch("has \(sourceDataset.rowCount) rows in /\(dataset), and \(rows) are mapped from it")
                }
            }
        }
    }
}
