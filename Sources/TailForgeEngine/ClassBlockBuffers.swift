import Synchronization
import TailForgeNumerics

/// Spare row storage for class blocks that are written out and dropped, so a streaming job reuses a few blocks'
/// memory instead of allocating every class's rows afresh.
///
/// A fresh block is fresh pages: the kernel faults and zeroes each one when the sampler first fills it (and on
/// a virtual machine the host may have to back it too). At Places-LT scale that was 5.6 GB of pages — two
/// thirds of a full-layout `balance`'s page faults — for memory that only ever held a few blocks at a time.
/// A buffer's capacity only grows; the pool holds as many buffers as blocks were in flight at once.
public final class ClassBlockBuffers: Sendable {
    private let spare = Mutex<[[Float]]>([])

    public init() {}

    /// Storage to build the next block in: a block handed back earlier, its old rows still in it (the engine
    /// overwrites them rather than clearing 15 MB first), or empty at first.
    public func take() -> [Float] {
        spare.withLock { $0.popLast() } ?? []
    }

    /// Hands a written block's row storage back for a later block. Call it when the block is no longer needed, as
    /// the last use of it: storage still shared when it is taken again is copied on its first write (the same
    /// rows, one copy slower).
    public func recycle(_ block: ClassBlock) {
        let storage = block.embeddings.storage
        guard storage.capacity > 0 else { return }
        spare.withLock { $0.append(storage) }
    }
}
