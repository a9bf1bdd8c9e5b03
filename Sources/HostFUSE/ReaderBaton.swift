// Which worker may read /dev/fuse: exactly one at a time. The others wait here, on a condition
// variable, instead of in read(2). A thread blocked in read sits on the connection's wait
// queue, and the kernel wakes one such thread for every request it queues, even when the
// reading thread takes the request itself; on two cores those wake-ups cost more than the
// requests (measured: open+close of a cached file took 41 µs with four readers, 26 µs with
// one reader).
import Glibc

final class ReaderBaton: @unchecked Sendable {
    // SAFETY: `held` and `ended` are only read and written with `mutex` locked; the pthread
    // objects live at fixed heap addresses for the life of the baton.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var held = false
    private var ended = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Waits until no worker reads and takes the baton. False once the session ended.
    func acquire() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while held && !ended { pthread_cond_wait(condition, mutex) }
        if ended { return false }
        held = true
        return true
    }

    /// Lets one waiting worker read.
    func release() {
        pthread_mutex_lock(mutex)
        held = false
        pthread_mutex_unlock(mutex)
        pthread_cond_signal(condition)
    }

    /// The connection is gone: every waiting and future `acquire` returns false.
    func end() {
        pthread_mutex_lock(mutex)
        ended = true
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(condition)
    }
}
