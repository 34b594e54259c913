import Synchronization

/// One slot per index, filled from concurrent iterations and read once they are all done.
final class ConcurrentResults<Value: Sendable>: Sendable {
    private let slots: Mutex<[Value?]>

    init(count: Int) { slots = Mutex([Value?](repeating: nil, count: count)) }

    func set(_ index: Int, _ value: Value) { slots.withLock { $0[index] = value } }

    var values: [Value?] { slots.withLock { $0 } }
}
