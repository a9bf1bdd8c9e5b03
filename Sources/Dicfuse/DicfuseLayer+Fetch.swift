// Fetching blob contents on demand, with shared flights (concurrent misses for one blob wait
// for the same request) and sibling and walk prefetch. Blob sizes are in DicfuseLayer+Sizes,
// lazily fetched trees in DicfuseLayer+LazyTrees.
import Glibc
import Logging
import ScorpioSys
import Synchronization
import SystemPackage

extension DicfuseLayer {
    /// Maximum objects per fetch request.
    static let batchLimit = 256
    /// Siblings fetched along with a miss must be at most this large each.
    static let siblingSizeLimit: UInt64 = 256 * 1024
    /// How much of the directory's subtree `siblings` adds to a batch: programs that read one
    /// file of a directory tend to walk the directories below it next (tar, grep -r, builds).
    /// One request per directory made a cold `tar` of 7,085 directories 2.3x slower than a
    /// clone; the bound keeps a single cold read cheap (at most 2 MiB more).
    static let subtreeBlobLimit = 128
    static let subtreeByteLimit: UInt64 = 2 << 20
    /// A miss within this long of the previous batch, plus `walkReadNanosecondsPerBlob` for
    /// each blob that batch brought (the time to read them), means a walk (tar, grep -r, a
    /// build going through a tree): the batch then also takes the directory's siblings and
    /// their subtrees. A cold `tar` of the benchmark tree made 4,721 requests with the narrow
    /// reach alone; with a fixed 1 s window, batches of 4,096 blobs took longer than that to
    /// read from a cold disk, and each ended the walk.
    static let walkWindowNanoseconds: Int64 = 1_000_000_000
    static let walkReadNanosecondsPerBlob: Int64 = 1_000_000
    /// During a walk, files up to this size join batches (the walk will read them too; 310
    /// files above `siblingSizeLimit` made 310 requests of their own in the benchmark).
    static let walkFileSizeLimit: UInt64 = 8 << 20
    /// A walk's batches grow like the kernel's readahead window: each takes twice the blobs of
    /// the one before, up to these bounds (16 MiB of content per 256 blobs). The server spends
    /// about 30 ms per request whatever its size, so a cold `tar` of 45,058 blobs with fixed
    /// 256-blob batches made 1,476 requests and spent most of its 50 s waiting for them.
    static let walkBlobLimit = 16384
    static let walkBytesPer256Blobs: UInt64 = 16 << 20
    /// Large requests cost the git server much less: it sends a delta family as stored when
    /// the whole family is in the request, and searches a new delta for a blob whose base is
    /// not. Replaying the benchmark tree's 45,058 blobs in mount order through
    /// `git pack-objects`: one request 1.0 s of CPU, 6 requests 1.5 s, 12 2.9 s, 25 5.8 s.
    /// A request holds in memory only the part of its pack not parsed yet, plus
    /// packBaseCacheBytes of delta bases (BlobIntake).
    static let walkByteLimit: UInt64 = 128 << 20
    /// Delta bases a fetch keeps in memory while it stores a pack's blobs (DeltaResolver);
    /// older ones are read back from the content store.
    static let packBaseCacheBytes = 16 << 20
    /// At most this many directories are looked at per batch (each costs a stat per blob);
    /// a walk's batch may look at as many as it may take blobs.
    static let subtreeDirectoryLimit = 256

    /// Which flight table: objects being fetched, or trees whose blob sizes are asked for.
    enum FlightTable {
        case objects
        case sizes
    }

    func withFlights<Result>(_ table: FlightTable, _ body: (inout [ObjectID: FetchWaiter]) -> Result) -> Result {
        switch table {
        case .objects: inflight.withLock { body(&$0) }
        case .sizes: sizeLookups.withLock { body(&$0) }
        }
    }

    /// Runs `work` for `id` once however many threads ask at the same time, together with
    /// those of `others` nobody works on yet: the first caller claims them and starts `work`
    /// with the claimed ids (on its own thread, see FetchWaiter); every caller waits until
    /// `id` arrived or the work ended. Nothing runs when `done` says (under the table's lock)
    /// that a batch which just ended brought `id`.
    func sharedFetch(_ id: ObjectID, along others: [ObjectID] = [], in flights: FlightTable, path: [UInt8]?,
                     unlessDone done: () -> Bool = { false },
                     _ work: @escaping @Sendable (_ claimed: [ObjectID], _ waiter: FetchWaiter) -> Errno?) throws(Errno) {
        let claim = withFlights(flights) { table -> (FetchWaiter, [ObjectID])? in
            if let existing = table[id] { return (existing, []) }
            if done() { return nil }
            let created = FetchWaiter()
            var claimed = [id]
            table[id] = created
            for other in others where table[other] == nil {
                table[other] = created
                claimed.append(other)
            }
            return (created, claimed)
        }
        guard let (waiter, claimed) = claim else { return }
        if !claimed.isEmpty {
            waiter.run { [self] in
                let failure = work(claimed, waiter)
                withFlights(flights) { table in for claimedID in claimed { table[claimedID] = nil } }
                return failure
            }
        }
        try waitForFetch(waiter, object: id, path: path)
    }

    /// Makes sure a blob is in the content store, fetching it (and, by policy, its small
    /// siblings) once however many threads ask at the same time.
    /// The siblings are claimed along with the blob: a thread that misses one of them while
    /// the batch is in flight waits for that batch instead of fetching the directory again.
    /// A symlink's target (`symlinkTarget`, read by readlink) takes other symlinks along, never
    /// file contents, and is no step of a walk (DicfuseLayer+Symlinks).
    func ensureBlob(_ id: ObjectID, in parent: ObjectID, path: [UInt8], symlinkTarget: Bool = false) throws(Errno) {
        if store.cachedBlobSize(id) != nil { return }
        // Fetched by this daemon a while ago and gone now: `cache gc` (or another process)
        // evicted it, and likely its neighbours, which the memo would keep out of this batch
        // and of every batch after: one request per file.
        if recentlyFetched.withLock({ $0.contains(id) }) {
            recentlyFetched.withLock { $0.removeAll() }
            logger.info("a blob fetched before is gone from the cache (evicted?): planning from the store again",
                        metadata: ["object": "\(id.hex)"])
        }
        let (siblings, walking) = symlinkTarget ? (symlinksToPrefetch(along: id, in: parent), false)
                                                : siblingsToPrefetch(of: id, in: parent, path: path)
        switch claim(id, along: siblings) {
        case .cached:
            return
        case .wait(let waiter):
            try waitForFetch(waiter, object: id, path: path)
        case .fetch(let waiter, let claimed):
            logger.debug("blob not cached: fetching", metadata: ["path": "\(String(decoding: path, as: UTF8.self))",
                                                                 "batch": "\(claimed.count)", "walking": "\(walking)"])
            if walking { startWalkAhead(of: id, in: parent, path: path) }
            defer {
                // A walk's next miss comes after this fetch and after reading what it brought.
                if !symlinkTarget {
                    let allowance = Self.walkWindowNanoseconds + Int64(claimed.count) * Self.walkReadNanosecondsPerBlob
                    walkDeadline.store(monotonicNanoseconds() + allowance, ordering: .relaxed)
                }
            }
            waiter.run { [self] in fetchAndRelease(claimed, waiter: waiter, path: path) }
            try waitForFetch(waiter, object: id, path: path)
        }
    }

    /// Waits for a fetch in flight. An interrupted request gives up (EINTR) and says so once;
    /// the fetch goes on.
    func waitForFetch(_ waiter: FetchWaiter, object id: ObjectID, path: [UInt8]?) throws(Errno) {
        guard let error = waiter.wait(for: id) else { return }
        if error == .interrupted {
            logger.info("request interrupted while waiting for a fetch; the fetch goes on",
                        metadata: ["path": "\(path.map { String(decoding: $0, as: UTF8.self) } ?? "")", "object": "\(id.hex)"])
        }
        throw error
    }

    enum Claim {
        case cached
        case wait(FetchWaiter)
        case fetch(FetchWaiter, [ObjectID])
    }

    /// Registers `id` (if nobody fetches it yet) and those of `others` nobody fetches yet and
    /// nobody fetched a moment ago as one batch in flight.
    func claim(_ id: ObjectID?, along others: [ObjectID]) -> Claim {
        inflight.withLock { table -> Claim in
            if let id {
                if let existing = table[id] { return .wait(existing) }
                // Fetched and stored while we were not holding the lock: nothing to do.
                if store.cachedBlobSize(id) != nil { return .cached }
            }
            let created = FetchWaiter()
            var claimed: [ObjectID] = []
            if let id {  // not in flight (see above)
                table[id] = created
                claimed.append(id)
            }
            recentlyFetched.withLock { recent in
                for candidate in others where table[candidate] == nil && !recent.contains(candidate) {
                    table[candidate] = created
                    claimed.append(candidate)
                }
            }
            return claimed.isEmpty ? .cached : .fetch(created, claimed)
        }
    }

    /// Fetches a claimed batch and releases its waiters.
    func fetchClaimed(_ claimed: [ObjectID], waiter: FetchWaiter, path: [UInt8]) throws(Errno) {
        let failure = fetchAndRelease(claimed, waiter: waiter, path: path)
        waiter.finish(failure)
        if let failure { throw failure }
    }

    /// Fetches a claimed batch and takes it off the in-flight table; returns the failure.
    private func fetchAndRelease(_ claimed: [ObjectID], waiter: FetchWaiter, path: [UInt8]) -> Errno? {
        var failure: Errno? = nil
        // `fetch` notes what it stored as recently fetched: a planner that no longer finds one
        // of them in flight finds it there.
        do { try fetch(claimed, path: path, arrived: waiter.noteArrived) } catch { failure = error }
        inflight.withLock { table in for claimedID in claimed { table[claimedID] = nil } }
        return failure
    }

    /// The blobs to fetch along with `id`, and whether this miss continues a walk.
    private func siblingsToPrefetch(of id: ObjectID, in parent: ObjectID, path: [UInt8]) -> ([ObjectID], walking: Bool) {
        guard prefetch != .none else { return ([], false) }
        let now = monotonicNanoseconds()
        let walking = now < walkDeadline.exchange(now + Self.walkWindowNanoseconds, ordering: .relaxed)
        let walkBlobs = walking ? walkBudget.load(ordering: .relaxed) : Self.batchLimit
        walkBudget.store(walking ? min(walkBlobs * 2, Self.walkBlobLimit) : Self.batchLimit, ordering: .relaxed)
        return (plannedBatch(along: id, in: parent, path: path, walking: walking, walkBlobs: walkBlobs, skipping: []), walking)
    }

    /// During a walk, the window after the batch just claimed is fetched on another thread
    /// while this one fetches its own batch and the reader works through it, so the server's
    /// work and ours overlap. One such fetch at a time (two batches in memory at most). The
    /// window's first blobs become the walk's markers (DicfuseLayer+WalkMarkers): the reader
    /// reaching one starts the next window, so a long walk keeps a window fetched ahead
    /// instead of missing once per window. A marker reached while a window is still being
    /// fetched is kept, and that thread plans from it next.
    func startWalkAhead(of id: ObjectID, in parent: ObjectID, path: [UInt8]) {
        let anchor = WalkAnchor(id: id, parent: parent, path: path)
        guard walkAheadRunning.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            pendingWalkAnchor.withLock { $0 = anchor }
            return
        }
        pendingWalkAnchor.withLock { $0 = nil }
        walkAheadThread.withLock { slot in
            slot?.join()  // it cleared the flag on its way out
            slot = try? KernelThread.start { [self] in
                defer { walkAheadRunning.store(false, ordering: .releasing) }
                var next: WalkAnchor? = anchor
                while let current = next {
                    fetchWindow(after: current)
                    next = pendingWalkAnchor.withLock { pending in
                        defer { pending = nil }
                        return pending
                    }
                }
            }
            if slot == nil { walkAheadRunning.store(false, ordering: .releasing) }
        }
    }

    /// Plans the walk's window after `anchor`, marks its start and fetches it.
    private func fetchWindow(after anchor: WalkAnchor) {
        let budget = walkBudget.load(ordering: .relaxed)
        let inFlight = inflight.withLock { Set($0.keys) }
        let ahead = plannedBatch(along: anchor.id, in: anchor.parent, path: anchor.path, walking: true, walkBlobs: budget, skipping: inFlight)
        setWalkMarkers(ahead)
        guard case .fetch(let waiter, let claimed) = claim(nil, along: ahead) else { return }
        try? fetchClaimed(claimed, waiter: waiter, path: anchor.path)  // a reader waiting for it gets the error
    }

    /// Plans a batch around `id` (not included). `skipping` holds blobs to count as fetched
    /// already (those in flight, for a walk's next window).
    private func plannedBatch(along id: ObjectID, in parent: ObjectID, path: [UInt8], walking: Bool, walkBlobs: Int,
                              skipping: Set<ObjectID>) -> [ObjectID] {
        guard let entries = try? tree(parent) else { return [] }
        let sizeLimit = walking ? Self.walkFileSizeLimit : Self.siblingSizeLimit
        let byteLimit = walking ? min(Self.walkByteLimit, Self.walkBytesPer256Blobs * UInt64(walkBlobs / Self.batchLimit)) : Self.subtreeByteLimit
        var bytes: UInt64 = 0  // counted from the start during a walk, for the subtree only otherwise
        var result: [ObjectID] = []
        var subdirectories: [TreeEntry] = []
        for (entry, size) in zip(entries, blobSizes(of: parent, entries: entries)) where entry.id != id {
            if entry.kind == .directory { subdirectories.append(entry) }
            guard entry.isBlob, !skipping.contains(entry.id), !isCached(entry.id),
                  prefetch == .all || size <= sizeLimit else { continue }
            if walking {
                guard size <= byteLimit - bytes else { continue }
                bytes += size
            }
            result.append(entry.id)
            if result.count >= Self.batchLimit - 1 { return result }
        }
        // Then files below, breadth first, where the store has the trees; sizes missing for
        // them are learned in one object-info request first (no blob is fetched blind). A walk
        // goes on in the order the mount lists names (tar, find and grep -r follow it): depth
        // first through this directory's subdirectories, then the directories after this one
        // in its parent.
        let below = walking
            ? plannedDirectories(from: inListingOrder(subdirectories) + walkNeighbours(of: path), depthFirst: true,
                                 blobLimit: walkBlobs, directoryLimit: max(Self.subtreeDirectoryLimit, walkBlobs), skipping: skipping)
            : plannedDirectories(from: subdirectories.map(\.id), depthFirst: false,
                                 blobLimit: Self.subtreeBlobLimit, directoryLimit: Self.subtreeDirectoryLimit, skipping: skipping)
        learnSizesQuietly(below)
        let limit = walking ? walkBlobs - 1 : min(Self.batchLimit - 1, result.count + Self.subtreeBlobLimit)
        for directory in below {
            for (entry, size) in zip(directory.entries, blobSizes(of: directory.id, entries: directory.entries)) {
                guard entry.isBlob, size <= sizeLimit, !directory.cached.contains(entry.id),
                      !skipping.contains(entry.id), size <= byteLimit - bytes else { continue }
                guard result.count < limit else { return result }
                bytes += size
                result.append(entry.id)
            }
        }
        return result
    }

    /// Directory entries' ids in the order the mount lists them (by `listingCookie`).
    func inListingOrder(_ directories: [TreeEntry]) -> [ObjectID] {
        withListingCookies(directories).map(\.id)
    }

    /// Directory entries' cookies and ids, sorted by cookie.
    private func withListingCookies(_ directories: [TreeEntry]) -> [(cookie: UInt64, id: ObjectID)] {
        directories.map { (listingCookie(of: $0.name), $0.id) }.sorted { $0.cookie < $1.cookie }
    }

    /// The directories a walk reaches after the one holding `path` (a file's path), in the
    /// order it reaches them: those listed after it in its parent, then those after the parent
    /// in the grandparent, and so on up to the root; last (wrapping around) those listed
    /// before it in its parent.
    func walkNeighbours(of path: [UInt8]) -> [ObjectID] {
        let components = path.split(separator: UInt8(ascii: "/")).dropLast()  // the directories
        var after: [ObjectID] = [], before: [ObjectID] = []
        var depth = components.count
        while depth >= 1 {
            let above = Array(components.prefix(depth - 1).joined(separator: [UInt8(ascii: "/")]))
            let tree: ObjectID
            if above.isEmpty {
                tree = rootTree
            } else {
                guard let located = try? locate(above), let entry = located.entry, entry.kind == .directory else { break }
                tree = entry.id
            }
            guard let entries = try? knownTree(tree) else { break }
            let current = listingCookie(of: components[components.startIndex + depth - 1])
            let ordered = withListingCookies(entries.filter { $0.kind == .directory })
            after += ordered.filter { $0.cookie > current }.map(\.id)
            if depth == components.count { before = ordered.filter { $0.cookie < current }.map(\.id) }
            depth -= 1
        }
        return after + before
    }

    /// Directories from `roots` down, breadth first or depth first (a walk's order, `roots` and
    /// each directory's subdirectories taken in listing order), whose trees are known and that
    /// hold blobs not cached yet, until those number about `blobLimit`. Counting only uncached blobs matters
    /// during a walk: the regions next to it are often fetched already, and counting their
    /// blobs stopped batches at 24 new files on average (1,907 requests for 45,058 blobs).
    /// Each blob is looked up once here; those found cached are kept so the steps after need
    /// not look again.
    private func plannedDirectories(from roots: [ObjectID], depthFirst: Bool, blobLimit: Int, directoryLimit: Int,
                                    skipping: Set<ObjectID>) -> [SubtreeDirectory] {
        var found: [SubtreeDirectory] = []
        var blobs = 0, visited = 0
        // Breadth first takes from the front; depth first keeps a stack (reversed: the first
        // root and the first subdirectory come off first).
        var pending = depthFirst ? Array(roots.reversed()) : roots
        var front = 0
        while blobs < blobLimit, visited < directoryLimit, front < pending.count {
            let directory = depthFirst ? pending.removeLast() : pending[front]
            if !depthFirst { front += 1 }
            guard let children = try? knownTree(directory) else { continue }
            visited += 1
            var uncached = 0
            var cached: Set<ObjectID> = []
            let subdirectories = children.filter { $0.kind == .directory }
            pending += depthFirst ? inListingOrder(subdirectories).reversed() : subdirectories.map(\.id)
            for entry in children {
                // Blobs in flight count as fetched, without a stat of the content store.
                if entry.isBlob, !skipping.contains(entry.id) {
                    if isCached(entry.id) { cached.insert(entry.id) } else { uncached += 1 }
                }
            }
            if uncached > 0 {
                found.append(SubtreeDirectory(id: directory, entries: children, cached: cached))
                blobs += uncached
            }
        }
        return found
    }

    /// A directory considered for a sibling batch, with its blobs already cached.
    private struct SubtreeDirectory {
        let id: ObjectID
        let entries: [TreeEntry]
        let cached: Set<ObjectID>
    }

    /// Whether a blob's content is in the content store, for planning. Blobs this daemon
    /// fetched lately are answered from memory: planning asks about every blob of each
    /// directory it passes, again for each window, and a stat each was about 5% of the
    /// daemon's CPU in a cold read. Either memo may be stale for blobs that another process
    /// stores or evicts: a blob then is fetched when it is read, or fetched again in a batch.
    /// Blobs found missing are remembered too (until this daemon stores them): a walk's plans
    /// look at the blobs ahead of it again and again.
    private func isCached(_ id: ObjectID) -> Bool {
        if recentlyFetched.withLock({ $0.contains(id) }) { return true }
        if recentlyMissing.withLock({ $0.contains(id) }) { return false }
        if store.cachedBlobSize(id) != nil { return true }
        recentlyMissing.withLock { $0.insert(id) }
        return false
    }

    /// Learns the missing size tables of `trees` with one object-info request. Without
    /// object-info, or when it fails, they stay unknown (and their blobs are not prefetched).
    private func learnSizesQuietly(_ directories: [SubtreeDirectory]) {
        let unknown = directories.filter { sizes(of: $0.id) == nil }
        guard !unknown.isEmpty, let remote else { return }
        let cached = Set(unknown.flatMap(\.cached))
        _ = try? storeSizesFromObjectInfo(unknown.map { SizeLookup(tree: $0.id, entries: $0.entries) }, from: remote,
                                          isCached: { cached.contains($0) })
    }

    /// Fetches blobs into the store; `arrived` learns each as soon as it is stored.
    func fetch(_ ids: [ObjectID], path: [UInt8], arrived: @escaping (ObjectID) -> Void = { _ in }) throws(Errno) {
        guard let remote else {
            logger.error("file not cached and no remote configured", metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "object": "\(ids[0].hex)"])
            throw .ioError
        }
        do {
            try fetchAndStore(ids, from: remote, arrived: arrived)
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

    /// RemoteRetry.run, on a thread that may now wait for the git server.
    func withRetries<T>(_ body: () throws(RemoteError) -> T) throws(RemoteError) -> T {
        BlockingHint.willBlock()  // every call here talks to the git server
        return try RemoteRetry.run(logger: logger, body)
    }

    /// Fetches blobs in one request and stores them while the pack arrives (BlobIntake);
    /// a failed or retried request removes what it stored. Throws RemoteError or Errno.
    func fetchAndStore(_ ids: [ObjectID], from remote: GitRemote, arrived: @escaping (ObjectID) -> Void = { _ in }) throws {
        let intake = BlobIntake(wanted: ids, store: store, baseCacheBytes: Self.packBaseCacheBytes, arrived: arrived)
        try intake.undoingOnFailure {
            try withRetries { () throws(RemoteError) in
                try remote.fetchBlobs(ids, restart: intake.discard, consume: intake.append)
                try intake.finish()
            }
        }
        notePresent(intake.ids)
        remote.noteBlobsReceived(count: intake.ids.count, bytes: intake.bytes, first: ids.first)
    }

    /// Blobs this daemon has just stored: planning finds them without a stat, and their first
    /// use needs no touch (their access time is now).
    private func notePresent(_ stored: [ObjectID]) {
        recentlyMissing.withLock { missing in for id in stored { missing.remove(id) } }
        recentlyFetched.withLock { recent in for id in stored { recent.insert(id) } }
        for id in stored { toucher.noteFresh(id) }
    }
}
