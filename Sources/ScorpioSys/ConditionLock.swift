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

    /// Like `wait(until:then:)`, but gives up after `nanoseconds`; `body` learns whether
    /// `ready` holds.
    public func wait<Result>(until ready: (State) -> Bool, atMostNanoseconds nanoseconds: Int64,
                             then body: (inout State, Bool) -> Result) -> Result {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)  // pthread_cond_timedwait's default clock
        let total = Int64(deadline.tv_nsec) + nanoseconds
        deadline.tv_sec += Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(state) {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
        }
        return body(&state, ready(state))
    }

    /// Wakes one sleeping `wait` (to re-check its condition).
    public func signal() { pthread_cond_signal(condition) }

    /// Wakes every sleeping `wait`.
    public func broadcast() { pthread_cond_broadcast(condition) }
}
