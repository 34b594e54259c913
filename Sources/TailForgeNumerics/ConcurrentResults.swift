import Synchronization

/// One slot per index, filled from ``ComputePool`` iterations and read once they are all done.
public final class ConcurrentResults<Value: Sendable>: Sendable {
    private let slots: Mutex<(values: [Value?], filled: Int)>

    public init(count: Int) { slots = Mutex(([Value?](repeating: nil, count: count), 0)) }

    /// Fills slot `index` (each slot once).
    public func set(_ index: Int, _ value: Value) {
        slots.withLock { state in
            if state.values[index] == nil { state.filled += 1 }
            state.values[index] = value
        }
    }

    /// How many slots are filled so far (for progress reports).
    public var filledCount: Int { slots.withLock { $0.filled } }

    /// Every slot, nil where nothing was set.
    public var values: [Value?] { slots.withLock { $0.values } }
}
