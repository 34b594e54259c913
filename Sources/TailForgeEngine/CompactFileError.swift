import TailForgeStorage

/// Why a compact balanced file cannot be read or regenerated, saying what, where and what to do.
public enum CompactFileError: Error, CustomStringConvertible {
    /// The file is a full balanced file (`layout` "full"), or not a balanced file at all (`layout` nil), where a
    /// compact one is needed.
    case notCompact(path: String, layout: String?)
    /// An attribute or dataset does not fit the compact contract; `reason` says which and how.
    case malformed(path: String, reason: String)
    /// The recorded identity (`balanced_sha256`) or κ digest does not match the settings, input digest or rows
    /// read: the file was edited or damaged after it was written.
    case digestMismatch(path: String, what: String, recorded: String, computed: String)
    /// Regenerating the probe class did not reproduce the rows `balance` drew: this TailForge's sampler draws
    /// different bits than the one that wrote the file.
    case regenerationMismatch(path: String, classId: Int, writtenBy: String)
    case storage(StorageError)

    public var description: String {
        switch self {
        case .notCompact(let path, let layout?):
            return "\(path) is a \(layout) balanced file, not a compact one; it already holds every row "
                + "(read it directly, or run `balance --layout compact` for a compact file)"
        case .notCompact(let path, nil):
            return "\(path) is not a balanced file (no `balance` format attribute; an input file?), so not a compact one: "
                + "run `tailforge balance \(path) --layout compact --output FILE` first"
        case .malformed(let path, let reason):
            return "\(path) is not a valid compact balanced file: \(reason). Re-create it with `tailforge balance --layout compact`."
        case .digestMismatch(let path, let what, let recorded, let computed):
            return "\(path): \(what) does not match what the file records (recorded \(recorded), computed \(computed)); "
                + "the file was edited or damaged after it was written. Re-create it with `tailforge balance --layout compact` "
                + "from its input."
        case .regenerationMismatch(let path, let classId, let writtenBy):
            return "\(path): regenerating class \(classId) does not reproduce the synthetic rows tailforge \(writtenBy) drew "
                + "(this is tailforge \(ToolVersion.current), whose sampler draws different bits). Read it with tailforge "
                + "\(writtenBy), or rebalance the input with this version."
        case .storage(let error):
            return error.description
        }
    }
}
