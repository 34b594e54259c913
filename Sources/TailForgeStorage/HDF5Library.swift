import CHDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide gate for every HDF5 call.
///
/// The HDF5 installed here is the *serial* build, which keeps global state (the open-object table, the error
/// stack, the metadata cache) with no locking of its own, so two threads calling into it at once corrupt it.
/// Every wrapper method therefore holds this one lock for the duration of its HDF5 calls. The lock is
/// recursive because handle owners close their ids in `deinit`, which can run while the same thread already
/// holds the lock (a temporary dataspace released at the end of a read, a writer released inside a method).
enum HDF5Library {
    private static let mutex = RecursiveMutex()

    /// Lock nesting depth; read and written only by the thread holding the lock.
    nonisolated(unsafe) private static var depth = 0

    private static let opened: Bool = {
        _ = H5open()
        return true
    }()

    /// Takes the lock (pair every call with `leave()` in a `defer`).
    ///
    /// On the outermost entry it also turns off HDF5's automatic printing of error stacks to stderr (errors
    /// are collected with `H5Ewalk2` and thrown as `HDF5Error` instead). Once at start-up is not enough: after
    /// a failed close (disk full) HDF5 1.10 restores its default printer while unwinding.
    static func enter() {
        mutex.lock()
        _ = opened
        depth += 1
        if depth == 1 { _ = H5Eset_auto2(tf_H5E_DEFAULT(), nil, nil) }
    }

    static func leave() {
        depth -= 1
        mutex.unlock()
    }

    /// Text of the current HDF5 error stack, innermost cause last; clears the stack. Caller holds the lock.
    static func takeErrorStack() -> String {
        final class Collector {
            var frames: [(function: String, description: String, major: hid_t, minor: hid_t)] = []
        }
        let collector = Collector()
        _ = H5Ewalk2(tf_H5E_DEFAULT(), H5E_WALK_DOWNWARD, { _, error, context in
            guard let error, let context else { return 0 }
            let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
            let frame = error.pointee
            collector.frames.append((
                function: frame.func_name.map { String(cString: $0) } ?? "?",
                description: frame.desc.map { String(cString: $0).split(whereSeparator: \.isNewline).joined(separator: " ") } ?? "",
                major: frame.maj_num,
                minor: frame.min_num
            ))
            return 0
        }, Unmanaged.passUnretained(collector).toOpaque())
        // Message lookups are API calls that reset the stack, so they happen after the walk.
        let lines = collector.frames.map { frame in
            "\(frame.function)(): \(frame.description) [\(message(frame.major)): \(message(frame.minor))]"
        }
        _ = H5Eclear2(tf_H5E_DEFAULT())
        return lines.isEmpty ? "(HDF5 reported no error details)" : lines.joined(separator: "; ")
    }

    private static func message(_ id: hid_t) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        var type = H5E_MAJOR
        let length = H5Eget_msg(id, &type, &buffer, buffer.count)
        guard length > 0 else { return "?" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A recursive pthread mutex on the heap (a `pthread_mutex_t` must not move once initialised).
final class RecursiveMutex: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        handle = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(handle, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(handle)
        handle.deallocate()
    }

    func lock() { pthread_mutex_lock(handle) }
    func unlock() { pthread_mutex_unlock(handle) }
}
