// Reading cached blobs ahead of a walk when the host's page cache does not hold them (a
// remount after a reboot or drop_caches). A program such as tar reads one file at a time, and
// each blob it opens waits for the disk: its directory entry, its inode (blobs are spread
// over 256 fanout directories, so neighbours in the tree are far apart on disk) and its data.
// A few threads open the blobs the walk reaches next and ask for their data
// (POSIX_FADV_WILLNEED), so several reads are in flight while the program works through
// the ones already read. A directory is read ahead once per walk: not again within
// `directoryRepeatNanoseconds` (a walk's later misses would plan it again).
import Glibc
import ScorpioSys

final class DiskReadAhead: Sendable {
    /// Threads opening blobs ahead: reads in flight at once.
    static let threadCount = 4
    /// Blobs queued per planned window, and the queue length under which the next is planned.
    static let window = 1024
    /// Directories remembered as read ahead; past it the memory starts over.
    static let rememberedDirectories = 50_000
    /// A directory read ahead this long ago may be read ahead again: the page cache may have
    /// been dropped since (once per mount left every `tar` after the first on a mount without
    /// read-ahead, and a single miss early in a warm walk used up whole subtrees).
    static let directoryRepeatNanoseconds: Int64 = 10_000_000_000

    private let store: ObjectStore
    private let state = ConditionLock((queue: [ObjectID](), next: 0, directories: [ObjectID: Int64](), workers: 0, planning: false))

    init(store: ObjectStore) { self.store = store }

    /// Plans the next window with `planner` on a thread of its own, unless one is being
    /// planned or the queue still holds more than half a window.
    func plan(_ planner: @escaping @Sendable () -> [ObjectID]) {
        let start = state.withLock { s -> Bool in
            guard !s.planning, s.queue.count - s.next < Self.window / 2 else { return false }
            s.planning = true
            return true
        }
        guard start else { return }
        do {
            try KernelThread.start { [self] in
                let blobs = planner()
                state.withLock { $0.planning = false }
                enqueue(blobs)
            }.detach()
        } catch {
            state.withLock { $0.planning = false }
        }
    }

    /// Claims a directory for reading ahead; false when it was read ahead in the last
    /// `directoryRepeatNanoseconds`.
    func claim(_ directory: ObjectID) -> Bool {
        state.withLock { s in
            let now = monotonicNanoseconds()
            if let claimed = s.directories[directory], now - claimed < Self.directoryRepeatNanoseconds { return false }
            if s.directories.count >= Self.rememberedDirectories { s.directories.removeAll(keepingCapacity: true) }
            s.directories[directory] = now
            return true
        }
    }

    /// Queues blobs to read ahead, in the order the walk will read them, and starts threads.
    func enqueue(_ blobs: [ObjectID]) {
        guard !blobs.isEmpty else { return }
        let starting = state.withLock { s -> Int in
            if s.next > 0 { s.queue.removeFirst(s.next); s.next = 0 }
            s.queue += blobs
            let wanted = min(Self.threadCount, s.queue.count) - s.workers
            s.workers += max(0, wanted)
            return max(0, wanted)
        }
        for _ in 0..<starting {
            do {
                try KernelThread.start { [self] in work() }.detach()
            } catch {
                state.withLock { $0.workers -= 1 }
            }
        }
    }

    private func work() {
        while true {
            let id = state.withLock { s -> ObjectID? in
                guard s.next < s.queue.count else {
                    s.workers -= 1
                    return nil
                }
                s.next += 1
                return s.queue[s.next - 1]
            }
            guard let id else { return }
            guard let fd = try? store.openBlob(id) else { continue }  // not cached: the walk fetches it
            // The first MiB: what a page-cache prefill reads (larger files are passed through,
            // and the kernel's own readahead serves them).
            _ = posix_fadvise(fd.rawValue, 0, 1 << 20, POSIX_FADV_WILLNEED)
            fd.closeQuietly()
        }
    }
}
