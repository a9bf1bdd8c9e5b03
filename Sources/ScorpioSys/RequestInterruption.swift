// Lets a wait in a layer end early when the kernel interrupts the request it serves (FUSE
// INTERRUPT: the calling program got a signal). Without it, a program killed while its open
// waits for a stalled git server would hang until the fetch times out: once a request has
// reached the daemon, the kernel waits for its reply even for SIGKILL.
//
// The transport's dispatcher marks which request the current thread serves (`serving`); a
// wait registers itself for that request (`RequestInterruption.begin`) and is woken by
// `RequestInterrupts.interrupt`. Layers do not know about FUSE: on threads that serve no
// request, waits are simply not interruptible.
import Glibc
import Synchronization

/// A wait that an interrupt of one of the requests waiting in it should wake.
public protocol InterruptibleWait: AnyObject, Sendable {
    /// Request `unique` was interrupted: wake its waiter, which then gives up.
    func interrupt(request unique: UInt64)
}

/// The interruptible waits of one connection, by request id.
public final class RequestInterrupts: Sendable {
    /// INTERRUPTs may overtake the wait they are meant for (another thread reads them while
    /// the request is still on its way to the wait); the last few are remembered for that.
    static let earlyCapacity = 64

    private struct State {
        var waiting: [UInt64: any InterruptibleWait] = [:]
        var early: [UInt64] = []
        var earlyNext = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// The kernel interrupted request `unique`: wakes its wait, or remembers the interrupt for a
    /// wait that has not begun yet. Requests that never wait ignore it (they finish anyway).
    public func interrupt(_ unique: UInt64) {
        let wait = state.withLock { s -> (any InterruptibleWait)? in
            if let wait = s.waiting[unique] { return wait }
            if s.early.count < Self.earlyCapacity {
                s.early.append(unique)
            } else {
                s.early[s.earlyNext] = unique
                s.earlyNext = (s.earlyNext + 1) % Self.earlyCapacity
            }
            return nil
        }
        wait?.interrupt(request: unique)
    }

    /// Registers `wait` for request `unique`. False when the request was interrupted already.
    func begin(_ unique: UInt64, _ wait: any InterruptibleWait) -> Bool {
        state.withLock { s in
            if let index = s.early.firstIndex(of: unique) {
                s.early[index] = 0
                return false
            }
            s.waiting[unique] = wait
            return true
        }
    }

    func end(_ unique: UInt64) {
        _ = state.withLock { $0.waiting.removeValue(forKey: unique) }
    }
}

/// The request the calling thread serves, kept in thread-specific slots (no allocation per
/// request: the id is stored as the slot's pointer bits).
public enum RequestInterruption {
    private static let uniqueKey = makeKey()
    private static let registryKey = makeKey()

    private static func makeKey() -> pthread_key_t {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }

    /// Marks the calling thread as serving request `unique` (0: none) of `interrupts`, which
    /// must outlive the request.
    @inline(__always)
    public static func serving(_ unique: UInt64, of interrupts: RequestInterrupts) {
        pthread_setspecific(uniqueKey, UnsafeRawPointer(bitPattern: UInt(unique)))
        pthread_setspecific(registryKey, Unmanaged.passUnretained(interrupts).toOpaque())
    }

    /// The calling thread serves no request any more.
    @inline(__always)
    public static func servedNothing() {
        pthread_setspecific(uniqueKey, nil)
    }

    /// Registers `wait` for the request the calling thread serves. Returns that request's id,
    /// 0 when there is none (the wait is then not interruptible), or nil when the request was
    /// interrupted already (do not wait).
    public static func begin(_ wait: any InterruptibleWait) -> UInt64? {
        guard let raw = pthread_getspecific(uniqueKey), let registry = pthread_getspecific(registryKey) else { return 0 }
        let unique = UInt64(UInt(bitPattern: raw))
        let interrupts = Unmanaged<RequestInterrupts>.fromOpaque(registry).takeUnretainedValue()
        return interrupts.begin(unique, wait) ? unique : nil
    }

    /// Ends the registration `begin` made (`unique` as it returned).
    public static func end(_ unique: UInt64) {
        guard unique != 0, let registry = pthread_getspecific(registryKey) else { return }
        Unmanaged<RequestInterrupts>.fromOpaque(registry).takeUnretainedValue().end(unique)
    }
}
