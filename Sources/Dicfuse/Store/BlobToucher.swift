// `cache gc` evicts the blobs with the oldest access times. A file read from the kernel's page
// cache never opens its blob, so nothing would move that clock: the layer notes each blob its
// open files use, and a short-lived thread touches them (once per blob per run, and only where
// the access time is over an hour old, which skips a metadata write on nearly every blob of a
// warm tree). The OPEN that notes a blob only inserts into a set.
import Glibc
import ScorpioSys

final class BlobToucher: Sendable {
    /// A blob older than this is touched: eviction needs no finer clock.
    static let staleSeconds: Int64 = 3600

    private let store: ObjectStore
    private let state = ConditionLock((pending: [ObjectID](), seen: Set<UInt64>(), running: false))

    init(store: ObjectStore) { self.store = store }

    /// Notes that an open file uses `id`; the first note of a blob queues its touch.
    func noteUse(_ id: ObjectID) {
        let key = id.leadingWord
        let startThread = state.withLock { s -> Bool in
            guard s.seen.insert(key).inserted else { return false }
            s.pending.append(id)
            guard !s.running else { return false }
            s.running = true
            return true
        }
        guard startThread else { return }
        do {
            try KernelThread.start { [self] in drain() }.detach()
        } catch {
            state.withLock { $0.running = false }  // the next note tries again
        }
    }

    /// Notes a blob this daemon has just stored: its access time is now, so its first use
    /// needs no touch (a stat each, for every file of a first read of a tree).
    func noteFresh(_ id: ObjectID) {
        _ = state.withLock { $0.seen.insert(id.leadingWord) }
    }

    /// Touches what was noted, in batches a tenth of a second apart, and leaves after a second
    /// without notes. Leaving as soon as the queue was empty made a thread per OPEN during a
    /// first read of a tree (thread creation was 5% of the daemon's CPU).
    private func drain() {
        var idleRounds = 0
        while true {
            let batch = state.withLock { s -> [ObjectID] in
                let taken = s.pending
                s.pending = []
                if taken.isEmpty, idleRounds >= 10 { s.running = false }
                return taken
            }
            if batch.isEmpty {
                if idleRounds >= 10 { return }
                idleRounds += 1
            } else {
                idleRounds = 0
                for id in batch { store.touchBlobIfStale(id, olderThan: Self.staleSeconds) }
            }
            usleep(100_000)
        }
    }
}
