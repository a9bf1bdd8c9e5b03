// One fetch in flight, and the requests waiting for it. The fetch runs on its own thread, so
// each waiting request (the one that started it too) can give up when the kernel interrupts
// it (the program that asked got a signal) while the fetch goes on for the others and the
// cache. Blobs are stored while their pack arrives, so a request waiting for one blob of a
// large batch goes on as soon as that blob is stored, not when the whole batch is.
import ScorpioSys
import SystemPackage

final class FetchWaiter: InterruptibleWait {
    private struct State: Sendable {
        var done = false
        var result: Errno? = nil
        /// Requests interrupted while waiting here.
        var interrupted: Set<UInt64> = []
        /// Objects of the batch stored so far.
        var arrived: Set<ObjectID> = []

        /// The outcome for a request waiting for `object`, once there is one.
        func outcome(for object: ObjectID?) -> Errno?? {
            if done { return .some(result) }
            if let object, arrived.contains(object) { return .some(nil) }
            return nil
        }
    }
    private let state = ConditionLock(State())

    /// Blocks until `object` was stored (nil when it is), or `finish` was called (its error,
    /// if any); `.interrupted` when the request this thread serves was interrupted first.
    func wait(for object: ObjectID? = nil) -> Errno? {
        if let outcome = state.withLock({ $0.outcome(for: object) }) { return outcome }
        guard let unique = RequestInterruption.begin(self) else { return .interrupted }
        defer { RequestInterruption.end(unique) }
        BlockingHint.willBlock()
        return state.wait(until: { $0.outcome(for: object) != nil || $0.interrupted.contains(unique) }) { s in
            if let outcome = s.outcome(for: object) { return outcome }
            s.interrupted.remove(unique)
            return .interrupted
        }
    }

    /// `object` is stored: requests waiting for it go on.
    func noteArrived(_ object: ObjectID) {
        state.withLock { _ = $0.arrived.insert(object) }
        state.broadcast()
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

    /// At most this many fetches run at once; more wait for a turn. FUSE workers bound the
    /// fetches they start, but a request interrupted while waiting frees its worker and leaves
    /// its fetch running: against a stalled server, readers that keep getting signals would
    /// otherwise open connection after connection.
    static let parallelLimit = 8
    private static let running = ConditionLock(0)

    /// Runs `work` on a thread of its own (once fewer than `parallelLimit` fetches run), then
    /// `finish`es with its outcome. Runs it on the calling thread if no thread can be started.
    func run(_ work: @escaping @Sendable () -> Errno?) {
        let body: @Sendable () -> Void = { [self] in
            Self.running.wait(until: { $0 < Self.parallelLimit }) { $0 += 1 }
            let outcome = work()
            Self.running.withLock { $0 -= 1 }
            Self.running.signal()
            finish(outcome)
        }
        if let thread = try? KernelThread.start(body) {
            thread.detach()
        } else {
            body()
        }
    }
}
