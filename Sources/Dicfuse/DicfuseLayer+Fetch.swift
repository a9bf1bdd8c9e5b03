// Fetching on demand: blob sizes per directory and blob contents per open, with single flight
// (concurrent misses for one blob wait for the same request) and sibling prefetch.
import Dispatch
import Glibc
import Logging
import ScorpioSys
import Synchronization
import SystemPackage

/// One in-flight fetch that later callers wait for.
final class FetchWaiter: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let state = Mutex<(waiting: Int, result: Errno?, done: Bool)>((0, nil, false))

    /// Blocks until `finish` was called; returns its error, if any.
    func wait() -> Errno? {
        let done = state.withLock { s -> Bool in
            if !s.done { s.waiting += 1 }
            return s.done
        }
        if !done {
            BlockingHint.willBlock()
            semaphore.wait()
        }
        return state.withLock { $0.result }
    }

    func finish(_ error: Errno?) {
        let waiting = state.withLock { s -> Int in
            s.done = true
            s.result = error
            return s.waiting
        }
        for _ in 0..<waiting { semaphore.signal() }
    }
}

extension DicfuseLayer {
    /// Maximum objects per fetch request.
    static let batchLimit = 256
    /// Siblings fetched along with a miss must be at most this large each.
    static let siblingSizeLimit: UInt64 = 256 * 1024

    /// The size of blob `index` of `parent`.
    func blobSize(parent: ObjectID, index: Int, path: [UInt8]) throws(Errno) -> UInt64 {
        let entries = try tree(parent)
        let id = entries[index].id
        // A blob's size never changes, so a known one from the table is final; the table is
        // read once per directory (a stat of the cached blob would cost a syscall per file).
        if let sizes = sizes(of: parent), sizes.count == entries.count, sizes[index] != UInt64.max { return sizes[index] }
        if let size = store.cachedBlobSize(id) { return size }
        try learnSizes(of: parent, entries: entries, path: path)
        if let size = store.cachedBlobSize(id) { return size }
        if let sizes = sizes(of: parent), sizes.count == entries.count, sizes[index] != UInt64.max { return sizes[index] }
        throw .ioError
    }

    /// Learns the sizes of every blob in one tree: object-info where the server offers it,
    /// otherwise by fetching the directory's blobs in batches (documented in the README).
    private func learnSizes(of parent: ObjectID, entries: [TreeEntry], path: [UInt8]) throws(Errno) {
        guard let remote else {
            logger.error("blob size unknown and no remote to ask", metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "tree": "\(parent.hex)"])
            throw .ioError
        }
        let blobs = entries.filter { $0.kind != .directory && $0.kind != .gitlink }.map(\.id)
        let missing = blobs.filter { store.cachedBlobSize($0) == nil }
        var sizes: [ObjectID: UInt64] = [:]
        BlockingHint.willBlock()
        do {
            if let known = try remote.objectSizes(missing) {
                sizes = known
            } else {
                for start in stride(from: 0, to: missing.count, by: Self.batchLimit) {
                    try storeFetched(remote.fetchBlobs(Array(missing[start..<min(start + Self.batchLimit, missing.count)])))
                }
            }
        } catch let error as RemoteError {
            logger.error("cannot learn blob sizes: \(error)", metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "object": "\(entries.first { path.split(separator: UInt8(ascii: "/")).last.map(Array.init) == $0.name }?.id.hex ?? "")", "tree": "\(parent.hex)"])
            throw .ioError
        } catch {
            throw .ioError
        }
        let table = entries.map { entry -> UInt64 in
            if let size = store.cachedBlobSize(entry.id) { return size }
            return sizes[entry.id] ?? UInt64.max
        }
        try? store.storeSizes(table, of: parent)
        forgetSizes(of: parent)
    }

    /// Runs `body` for `id` once however many threads ask at the same time: the first caller
    /// runs it, the others wait for its outcome.
    func singleFlight(_ id: ObjectID, _ body: () throws(Errno) -> Void) throws(Errno) {
        let (waiter, leader) = inflight.withLock { table -> (FetchWaiter, Bool) in
            if let existing = table[id] { return (existing, false) }
            let created = FetchWaiter()
            table[id] = created
            return (created, true)
        }
        if !leader {
            if let error = waiter.wait() { throw error }
            return
        }
        var failure: Errno? = nil
        do { try body() } catch { failure = error }
        inflight.withLock { $0[id] = nil }
        waiter.finish(failure)
        if let failure { throw failure }
    }

    /// Makes sure a blob is in the content store, fetching it (and, by policy, its small
    /// siblings) once however many threads ask at the same time.
    /// The siblings are claimed along with the blob: a thread that misses one of them while
    /// the batch is in flight waits for that batch instead of fetching the directory again.
    func ensureBlob(_ id: ObjectID, in parent: ObjectID, path: [UInt8]) throws(Errno) {
        if store.cachedBlobSize(id) != nil { return }
        switch claim(id, along: siblingsToPrefetch(of: id, in: parent)) {
        case .cached:
            return
        case .wait(let waiter):
            if let error = waiter.wait() { throw error }
        case .fetch(let waiter, let claimed):
            try fetchClaimed(claimed, waiter: waiter, path: path)
        }
    }

    enum Claim {
        case cached
        case wait(FetchWaiter)
        case fetch(FetchWaiter, [ObjectID])
    }

    /// Registers `id` (if nobody fetches it yet) and those of `others` nobody fetches yet as
    /// one batch in flight.
    func claim(_ id: ObjectID?, along others: [ObjectID]) -> Claim {
        inflight.withLock { table -> Claim in
            if let id {
                if let existing = table[id] { return .wait(existing) }
                // Fetched and stored while we were not holding the lock: nothing to do.
                if store.cachedBlobSize(id) != nil { return .cached }
            }
            let created = FetchWaiter()
            var claimed: [ObjectID] = []
            for candidate in (id.map { [$0] } ?? []) + others where table[candidate] == nil {
                table[candidate] = created
                claimed.append(candidate)
            }
            return claimed.isEmpty ? .cached : .fetch(created, claimed)
        }
    }

    /// Fetches a claimed batch and releases its waiters.
    func fetchClaimed(_ claimed: [ObjectID], waiter: FetchWaiter, path: [UInt8]) throws(Errno) {
        var failure: Errno? = nil
        do { try fetch(claimed, path: path) } catch { failure = error }
        inflight.withLock { table in for claimedID in claimed { table[claimedID] = nil } }
        waiter.finish(failure)
        if let failure { throw failure }
    }

    /// `--trees lazy`: fetches one tree into the store, once however many threads ask.
    func fetchTreeOnce(_ id: ObjectID) throws(Errno) {
        try singleFlight(id) { () throws(Errno) in
            guard let remote else { throw .ioError }
            do {
                try store.store(try withRetries { () throws(RemoteError) in try remote.fetchTree(id) })
            } catch let error as Errno {
                throw error
            } catch {
                logger.error("cannot fetch a tree: \(error)", metadata: ["object": "\(id.hex)"])
                throw .ioError
            }
        }
    }

    private func siblingsToPrefetch(of id: ObjectID, in parent: ObjectID) -> [ObjectID] {
        guard prefetch != .none, let entries = try? tree(parent) else { return [] }
        let sizes = self.sizes(of: parent)
        var result: [ObjectID] = []
        for (index, entry) in entries.enumerated() where entry.id != id && (entry.kind == .file || entry.kind == .executable || entry.kind == .symlink) {
            guard store.cachedBlobSize(entry.id) == nil else { continue }
            let size = sizes.flatMap { $0.count == entries.count ? $0[index] : nil } ?? UInt64.max
            if prefetch == .all || size <= Self.siblingSizeLimit { result.append(entry.id) }
            if result.count >= Self.batchLimit - 1 { break }
        }
        return result
    }

    func fetch(_ ids: [ObjectID], path: [UInt8]) throws(Errno) {
        guard let remote else {
            logger.error("file not cached and no remote configured", metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "object": "\(ids[0].hex)"])
            throw .ioError
        }
        do {
            try storeFetched(try withRetries { () throws(RemoteError) in try remote.fetchBlobs(ids) })
        } catch let error as RemoteError {
            logger.error("fetch failed: \(error)", metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "object": "\(ids[0].hex)"])
            throw .ioError
        } catch let error as Errno {
            logger.error("cannot store fetched content: \(error)", metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "object": "\(ids[0].hex)"])
            throw error
        } catch {
            throw .ioError
        }
    }

    /// Retries transient failures (connection refused or reset) twice, after 0.2 s and
    /// 1 s; server answers (ERR, missing capabilities, bad packs) are final at once.
    func withRetries<T>(_ body: () throws(RemoteError) -> T) throws(RemoteError) -> T {
        BlockingHint.willBlock()  // every call here talks to the git server
        var delay: UInt32 = 200_000
        var attempt = 0
        while true {
            do {
                return try body()
            } catch {
                attempt += 1
                switch error {
                case .transport where attempt < 3:  // a timeout already waited --fetch-timeout: final
                    logger.warning("git server unavailable, retrying: \(error)")
                    usleep(delay)
                    delay *= 5
                default:
                    throw error
                }
            }
        }
    }

    private func storeFetched(_ objects: [GitObject]) throws(Errno) {
        for object in objects where object.type == .blob { try store.store(object) }
    }
}
