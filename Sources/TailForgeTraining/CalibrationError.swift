/// Why `train --calibrate` cannot hold out rows, each naming the file and what to do.
public enum CalibrationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file has one of `/is_synthetic` and `/source_index` but not the other, so synthetic rows of held-out
    /// real rows cannot be excluded from the fit.
    case incompleteProvenance(file: String, missing: String)
    /// A provenance dataset's length differs from the number of rows.
    case provenanceLength(file: String, dataset: String, rows: Int, found: Int)
    /// A `/source_index` entry is negative.
    case invalidSourceIndex(file: String, row: Int, value: Int64)
    /// No class has two real rows, so none can be held out while the class stays in the fit.
    case nothingToHoldOut

    public var description: String {
        switch self {
        case .incompleteProvenance(let file, let missing):
            return "\(file) has no /\(missing), so --calibrate cannot tell which synthetic rows were generated from held-out real rows: "
                + "pass the file `tailforge balance` wrote (with /is_synthetic and /source_index), or the unbalanced input"
        case .provenanceLength(let file, let dataset, let rows, let found):
            return "\(file):/\(dataset) has \(found) entries for \(rows) rows: the file is inconsistent, regenerate it with `tailforge balance`"
        case .invalidSourceIndex(let file, let row, let value):
            return "\(file):/source_index row \(row) is \(value), but source rows are numbered from 0: regenerate the file with `tailforge balance`"
        case .nothingToHoldOut:
            return "no class has at least two real training rows, so --calibrate has nothing to hold out: train without --calibrate"
        }
    }
}
