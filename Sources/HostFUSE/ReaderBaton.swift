// Which worker may read /dev/fuse: exactly one at a time. The others wait here, on a condition
// variable, instead of in read(2). A thread blocked in read sits on the connection's wait
// queue, and the kernel wakes one such thread for every request it queues, even when the
// reading thread takes the request itself; on two cores those wake-ups cost more than the
// requests (measured: open+close of a cached file took 41 µs with four readers, 26 µs with
// one reader).
import ScorpioSys

final class ReaderBaton: Sendable {
    private let state = ConditionLock((held: false, ended: false))

    /// Waits until no worker reads and takes the baton. False once the session ended.
    func acquire() -> Bool {
        state.wait(until: { !$0.held || $0.ended }) { s in
            if s.ended { return false }
            s.held = true
            return true
        }
    }

    /// Lets one waiting worker read.
    func release() {
        state.withLock { $0.held = false }
        state.signal()
    }

    /// The connection is gone: every waiting and future `acquire` returns false.
    func end() {
        state.withLock { $0.ended = true }
        state.broadcast()
    }
}
