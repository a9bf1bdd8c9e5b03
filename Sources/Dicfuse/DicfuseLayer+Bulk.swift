// Bulk prefetch of a subtree (`scorpio-provider prefetch`): every uncached blob below a path,
// fetched in large batches on a few connections at once, instead of one request per directory
// as reads would make them. Blobs in flight are claimed like single misses, so a read that
// wants one of them waits for its batch. A cancel or an interrupt answers the request at once;
// the batches already requested (at most bulkParallelism) finish in the background.
import Overlay
import ScorpioSys
import Synchronization
import SystemPackage

extension DicfuseLayer {
    /// Blobs per request, and the known bytes per request. Packs are stored as they arrive, so
    /// a request's size costs little memory, and few large requests cost the git server much
    /// less than many small ones (see walkByteLimit). `prefetch` of the benchmark tree took
    /// 4.8-5.4 s with these, 6.8-6.9 s with 1,000 blobs / 64 MiB.
    static var bulkBatchLimit: Int { 8192 }
    static var bulkBatchBytes: UInt64 { 128 << 20 }
    /// Requests in flight at once.
    static var bulkParallelism: Int { 3 }

    public func prefetchSubtree(_ path: [UInt8], cancelled: () -> Bool) throws(Errno) -> Int {
        guard !cancelled() else { return 0 }
        let run = BulkRun(batches: try uncachedBatches(below: path))
        guard !run.batches.isEmpty else { return 0 }
        logger.info("prefetch started", metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "batches": "\(run.batches.count)"])
        // The batches run on threads of their own, so that this request can answer as soon as it
        // is cancelled (`prefetch` got Ctrl-C) or interrupted (it was killed: the kernel waits
        // for the answer even then). Batches already requested finish in the background and
        // stay in the cache; a read waiting for one of their blobs is served by them. At most
        // bulkParallelism such threads run in all, so prefetches cancelled one after another
        // against a stalled server do not pile up connections.
        for _ in 0..<min(Self.bulkParallelism, run.batches.count) {
            guard Self.bulkWorkers.wrappingAdd(1, ordering: .relaxed).oldValue < Self.bulkParallelism else {
                Self.bulkWorkers.wrappingSubtract(1, ordering: .relaxed)
                break
            }
            run.workerStarted()
            do {
                try KernelThread.start { [self] in
                    while fetchNextBatch(run, path: path) {}
                    Self.bulkWorkers.wrappingSubtract(1, ordering: .relaxed)
                    run.workerEnded()
                }.detach()
            } catch {
                Self.bulkWorkers.wrappingSubtract(1, ordering: .relaxed)
                run.workerEnded()
            }
        }
        // No thread free (the earlier prefetches' still run) or none could be started: fetch
        // on this one, looking at the cancel requests between batches.
        if run.allWorkersEnded { while !cancelled() && fetchNextBatch(run, path: path) {} }
        let unique = RequestInterruption.begin(run)
        defer { if let unique { RequestInterruption.end(unique) } }
        BlockingHint.willBlock()
        var outcome = unique == nil ? BulkRun.Ending.interrupted : run.waitForWorkers(atMostNanoseconds: Self.cancelPollNanoseconds)
        while outcome == .timedOut {
            if cancelled() {
                outcome = .cancelled
                break
            }
            outcome = run.waitForWorkers(atMostNanoseconds: Self.cancelPollNanoseconds)
        }
        let shownPath = String(decoding: path, as: UTF8.self)
        switch outcome {
        case .cancelled, .interrupted:
            run.stop()
            logger.info("prefetch \(outcome == .cancelled ? "cancelled" : "interrupted"): batches in flight finish in the background",
                        metadata: ["path": "\(shownPath)", "fetched": "\(run.fetched)"])
            if outcome == .interrupted { throw .interrupted }
        case .finished, .timedOut:
            if let error = run.failure { throw error }
        }
        return run.fetched
    }

    /// Bulk worker threads running, over all prefetches of all layers.
    static let bulkWorkers = Atomic<Int>(0)

    /// How often a waiting prefetch looks at the cancel requests.
    static var cancelPollNanoseconds: Int64 { 100_000_000 }

    /// Fetches the next batch nobody took yet; false when there is none or the run stopped.
    private func fetchNextBatch(_ run: BulkRun, path: [UInt8]) -> Bool {
        guard !run.stopped, let batch = run.take() else { return false }
        guard case .fetch(let waiter, let claimed) = claim(nil, along: batch) else { return true }
        do {
            try fetchClaimed(claimed, waiter: waiter, path: path)
            run.add(claimed.count)
        } catch {
            run.fail(error)
        }
        return true
    }

    public var fetchedTotals: (objects: Int, bytes: Int, inFlight: Int) {
        let inFlight = inflight.withLock { $0.count }
        guard let counters = remote?.counters else { return (0, 0, inFlight) }
        return (counters.blobs, counters.bytes, inFlight)
    }

    /// The uncached blobs below `path`, grouped into batches by count and known size; a blob
    /// bigger than a batch's byte budget goes alone.
    private func uncachedBatches(below path: [UInt8]) throws(Errno) -> [[ObjectID]] {
        let (entry, parent, index) = try locate(path)
        var pending: [(ObjectID, UInt64)] = []
        var seen = Set<ObjectID>()
        var trees: [(id: ObjectID, parent: ObjectID?)] = []  // a lazy miss fetches its siblings too
        if let entry {
            switch entry.kind {
            case .directory: trees.append((entry.id, parent))
            case .gitlink: return []
            default:
                if store.cachedBlobSize(entry.id) == nil {
                    pending.append((entry.id, sizes(of: parent).flatMap { index < $0.count ? $0[index] : nil } ?? 0))
                }
            }
        } else {
            trees.append((rootTree, nil))
        }
        while let (tree, holder) = trees.popLast() {
            let entries = try self.tree(tree, siblingsIn: holder)
            let sizes = self.sizes(of: tree)
            for (position, child) in entries.enumerated() {
                switch child.kind {
                case .directory: trees.append((child.id, tree))
                case .gitlink: continue
                default:
                    guard store.cachedBlobSize(child.id) == nil, seen.insert(child.id).inserted else { continue }
                    let size = sizes.flatMap { $0.count == entries.count ? $0[position] : nil } ?? 0
                    pending.append((child.id, size == UInt64.max ? 0 : size))
                }
            }
        }
        var batches: [[ObjectID]] = []
        var current: [ObjectID] = []
        var bytes: UInt64 = 0
        for (id, size) in pending {
            if !current.isEmpty && (current.count >= Self.bulkBatchLimit || bytes + size > Self.bulkBatchBytes) {
                batches.append(current)
                current = []
                bytes = 0
            }
            current.append(id)
            bytes += size
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }
}

/// The shared state of one bulk prefetch: which batch is next, what was fetched, the first
/// failure (which stops the others), and the worker threads still running, which the request
/// waits for unless it is interrupted.
final class BulkRun: InterruptibleWait {
    enum Ending: Equatable { case finished, timedOut, cancelled, interrupted }

    let batches: [[ObjectID]]
    private let next = Atomic<Int>(0)
    private let count = Atomic<Int>(0)
    private let halted = Atomic<Bool>(false)
    private let firstFailure = Mutex<Errno?>(nil)
    private struct Workers: Sendable {
        var running = 0
        var interrupted = false
    }
    private let workers = ConditionLock(Workers())

    init(batches: [[ObjectID]]) { self.batches = batches }

    func take() -> [ObjectID]? {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < batches.count ? batches[index] : nil
    }

    func add(_ fetched: Int) { count.wrappingAdd(fetched, ordering: .relaxed) }
    var fetched: Int { count.load(ordering: .relaxed) }

    func fail(_ error: Errno) {
        firstFailure.withLock { $0 = $0 ?? error }
        stop()
    }

    var failure: Errno? { firstFailure.withLock { $0 } }
    func stop() { halted.store(true, ordering: .relaxed) }
    var stopped: Bool { halted.load(ordering: .relaxed) }

    func workerStarted() { workers.withLock { $0.running += 1 } }

    func workerEnded() {
        workers.withLock { $0.running -= 1 }
        workers.broadcast()
    }

    var allWorkersEnded: Bool { workers.withLock { $0.running == 0 } }

    /// Waits until every worker ended or the request was interrupted, at most `nanoseconds`.
    func waitForWorkers(atMostNanoseconds nanoseconds: Int64) -> Ending {
        workers.wait(until: { $0.running == 0 || $0.interrupted }, atMostNanoseconds: nanoseconds) { state, ready in
            state.interrupted ? .interrupted : ready ? .finished : .timedOut
        }
    }

    func interrupt(request unique: UInt64) {
        workers.withLock { $0.interrupted = true }
        workers.broadcast()
    }
}
