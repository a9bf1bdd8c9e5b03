// A mutex with a condition variable around some state: for threads that sleep until another
// thread changes that state (the /dev/fuse reader baton, waiters for a fetch). Swift's Mutex
// has no condition variable; DispatchSemaphore cannot wake one chosen waiter.
import Glibc

public final class ConditionLock<State: Sendable>: @unchecked Sendable {
    // SAFETY: `state` is only read and written with `mutex` locked (withLock and wait); the
    // pthread objects live at fixed heap addresses for the life of the object.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var state: State

    public init(_ initial: State) {
        state = initial
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func withLock<Result>(_ body: (inout State) -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&state)
    }

    /// Sleeps until `ready` holds, then runs `body` under the same lock.
    public func wait<Result>(until ready: (State) -> Bool, then body: (inout State) -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(state) { pthread_cond_wait(condition, mutex) }
        return body(&state)
    }

    /// Wakes one sleeping `wait` (to re-check its condition).
    public func signal() { pthread_cond_signal(condition) }

    /// Wakes every sleeping `wait`.
    public func broadcast() { pthread_cond_broadcast(condition) }
}
