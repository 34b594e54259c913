import CHDF5

/// Publishes a balanced dataset (the `BalancedDatasetWriter` contract) without copying rows: each of its
/// datasets is an HDF5 virtual dataset that stitches the same dataset of every shard file, in shard order.
///
/// HDF5 shows fill values for a virtual dataset's rows whose source file is missing, silently, so publishing
/// is refused unless every shard exists and satisfies the contract, and `BalancedDatasetFile` re-checks the
/// sources whenever it opens a virtual file. Shard paths are stored as given: pass them relative to the
/// output's directory so the output and its shards can be moved together.
public enum VirtualBalancedDataset {
    /// Names of the per-row datasets, with their on-disk kinds, in the order they are created.
    static let rowDatasets: [(name: String, kind: HDF5ElementKind)] = [
        ("embeddings", .float32), ("labels", .int32), ("is_synthetic", .uint8), ("source_index", .int64),
        ("kappa", .float32),
    ]

    /// Writes `path` atomically as virtual datasets over `shards` (paths relative to `path`'s directory, or
    /// absolute). Returns the number of rows.
    @discardableResult
    public static func publish(
        path: String, shards: [String], attributes: [String: AttributeValue], classNames: [String]?
    ) throws(StorageError) -> Int {
        try AtomicHDF5Writer.checkWritable(path: path)
        guard !shards.isEmpty else { throw .invalidArgument("publishing \(path) needs at least one shard") }
        let directory = POSIXFile.directory(of: path)
        var dimension: Int?
        var placements: [(shard: String, rows: Range<Int>)] = []
        var total = 0
        for shard in shards {
            let resolved = shard.hasPrefix("/") ? shard : directory + "/" + shard
            guard POSIXFile.exists(resolved) else { throw .missingShard(output: path, shard: shard) }
            let contents = try BalancedDatasetFile(path: resolved)
            if let dimension, contents.dimension != dimension {
                throw .shardMismatch(
                    output: path, shard: shard, reason: "has dimension \(contents.dimension), the others \(dimension)")
            }
            dimension = contents.dimension
            placements.append((shard, total..<(total + contents.count)))
            total += contents.count
        }
        let output = try AtomicHDF5Writer(path: path)
        try output.writeAttributes(attributes)
        if let classNames { try output.writeStrings("class_names", classNames) }
        for (name, kind) in rowDatasets {
            let shape = name == "embeddings" ? [total, dimension!] : [total]
            try output.mapWriteFailure { () throws(StorageError) in
                try output.file.createVirtualDataset(
                    name, kind: kind, shape: shape,
                    sources: placements.filter { !$0.rows.isEmpty }.map { ($0.shard, name, $0.rows) })
            }
        }
        try output.commit()
        return total
    }
}

extension HDF5File {
    /// Creates a virtual dataset whose rows `rows` come from dataset `dataset` (all of it) of file `file`.
    func createVirtualDataset(
        _ name: String, kind: HDF5ElementKind, shape: [Int],
        sources: [(file: String, dataset: String, rows: Range<Int>)]
    ) throws(StorageError) {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let context = "\(path):/\(name)"
        let create = try HDF5PropertyList(class: tf_H5P_DATASET_CREATE(), context: context)
        try h5check(H5Pset_obj_track_times(create.id, false), .propertyList, context)
        for source in sources {
            let target = try HDF5Dataspace(dimensions: shape, context: context)
            try target.selectRows(source.rows, shape: shape, context: context)
            let sourceSpace = try HDF5Dataspace(dimensions: [source.rows.count] + shape.dropFirst(), context: context)
            try h5check(H5Pset_virtual(create.id, target.id, source.file, source.dataset, sourceSpace.id), .propertyList, context)
        }
        let space = try HDF5Dataspace(dimensions: shape, context: context)
        let id = try h5id(
            H5Dcreate2(self.id, name, kind.fileType, space.id, tf_H5P_DEFAULT(), create.id, tf_H5P_DEFAULT()),
            .createDataset, context)
        _ = H5Dclose(id)
    }
}

extension HDF5Dataset {
    /// For a virtual dataset, the source file names it maps (as stored: "." is this file); empty otherwise.
    public var virtualSourceFiles: [String] {
        HDF5Library.enter(); defer { HDF5Library.leave() }
        let create = H5Dget_create_plist(id)
        guard create >= 0 else { return [] }
        defer { _ = H5Pclose(create) }
        guard H5Pget_layout(create) == H5D_VIRTUAL else { return [] }
        var count = 0
        guard H5Pget_virtual_count(create, &count) >= 0 else { return [] }
        var names: [String] = []
        for index in 0..<count {
            let length = H5Pget_virtual_filename(create, index, nil, 0)
            guard length >= 0 else { continue }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = H5Pget_virtual_filename(create, index, &buffer, buffer.count)
            let name = String(cString: buffer)
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    /// Throws `missingVirtualSource` when this is a virtual dataset and one of its source files is gone.
    func checkVirtualSources() throws(StorageError) {
        let directory = POSIXFile.directory(of: file.path)
        for source in virtualSourceFiles where source != "." {
            let candidates = source.hasPrefix("/") ? [source] : [directory + "/" + source, source]
            guard candidates.contains(where: POSIXFile.exists) else {
                throw .missingVirtualSource(file: file.path, dataset: name, source: source)
            }
        }
    }
}
