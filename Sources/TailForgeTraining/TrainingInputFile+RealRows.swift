import TailForgeEngine
import TailForgeNumerics

extension TrainingInputFile {
    /// The file's real rows as unit rows (with their labels, in file order), and how many synthetic rows were left
    /// out: a compact balanced file's stored real rows (nothing is regenerated; scaled as every reader scales a full
    /// file's rows, so both layouts give the same bits), a file that marks its synthetic rows
    /// (`/is_synthetic` with `/source_index`, read and checked as `train --calibrate` reads them) without them, any
    /// other file whole. A model of the training rows themselves (`train --classifier vmf-mixture`) fits these:
    /// a balanced set's synthetic rows are draws around its real rows, and would count as evidence twice.
    public func loadRealRows() throws -> (shard: TrainingShard, syntheticRowsLeftOut: Int) {
        switch contents {
        case .compact(let compact):
            // Scaled again exactly as reading the full layout's /embeddings does, so both layouts give the same rows.
            var rows = compact.realEmbeddings
            do { try RowNormalization.normalizeRows(&rows) } catch {
                throw CompactFileError.malformed(path: path, reason: "real row \(error) cannot be normalised")
            }
            return (try TrainingShard(name: path, embeddings: rows, labels: compact.realLabels), compact.fullRows - rows.rows)
        case .labeled:
            let (shard, provenance) = try load(provenance: true)
            guard let synthetic = provenance?.isSynthetic else { return (shard, 0) }
            let real = synthetic.indices.filter { !synthetic[$0] }
            guard !real.isEmpty else {
                throw TrainingError.invalidSetting(name: "\(path)", value: "\(shard.rowCount) rows, all marked synthetic in /is_synthetic",
                                                   expected: "a file with real rows: give the long-tailed file the balanced set was made from")
            }
            return (try TrainingShard(name: path, embeddings: shard.embeddings.gatherRows(real), labels: real.map { shard.labels[$0] }),
                    shard.rowCount - real.count)
        }
    }
}
