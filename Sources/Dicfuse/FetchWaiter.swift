// One fetch in flight, and the requests waiting for it. The fetch runs on its own thread, so
// each waiting request (the one that started it too) can give up when the kernel interrupts
// it (the program that asked got a signal) while the fetch goes on for the others and the
// cache.
import ScorpioSys
import SystemPackage

final class FetchWaiter: InterruptibleWait {
    private struct State: Sendable {
        var done = false
        var result: Errno? = nil
        /// Requests interrupted while waiting here.
        var interrupted: Set<UInt64> = []
    }
    private let state = ConditionLock(State())

    /// Blocks until `finish` was called and returns its error, if any; `.interrupted` when the
    /// request this thread serves was interrupted first.
    func wait() -> Errno? {
        if let outcome = state.withLock({ s -> Errno?? in s.done ? .some(s.result) : nil }) { return outcome }
        guard let unique = RequestInterruption.begin(self) else { return .interrupted }
        defer { RequestInterruption.end(unique) }
        BlockingHint.willBlock()
        return state.wait(until: { $0.done || $0.interrupted.contains(unique) }) { s in
            if s.done { return s.result }
            s.interrupted.remove(unique)
            return .interrupted
        }
    }

    func finish(_ error: Errno?) {
        state.withLock { s in
            s.done = true
            s.result = error
        }
        state.broadcast()
    }

    func interrupt(request unique: UInt64) {
        state.withLock { _ = $0.interrupted.insert(unique) }
        state.broadcast()
    }

    /// Runs `work` on a thread of its own, then `finish`es with its outcome. Runs it on the
    /// calling thread if no thread can be started.
    func run(_ work: @escaping @Sendable () -> Errno?) {
        let body: @Sendable () -> Void = { [self] in finish(work()) }
        if let thread = try? KernelThread.start(body) {
            thread.detach()
        } else {
            body()
        }
    }
}
