// Storing a directory's small lower files in the kernel's page cache ahead of a walk. OPEN
// stores a small lower file's content before it answers (OpenResult.prefill), which puts an
// open, a read and a FUSE_NOTIFY_STORE of the host file on the program's wait. When an OPEN
// has to do that, the program is at the front of a walk: a thread of our own then stores the
// directory's next small lower files, in listing order (the order tar, grep -r and builds
// open them), so their OPENs find them stored. Only nodes the kernel knows (READDIRPLUS made
// them) can be stored; only content already on this host is read (never a fetch).
import FUSEWire
import ScorpioSys
import SystemPackage

/// Directories waiting for their siblings to be stored, and whether the thread runs.
struct SiblingPrefillQueue {
    struct Job {
        /// The file whose OPEN found it unstored; its successors in the listing come next.
        var node: InodeNumber
        var directory: InodeNumber
        var notifier: any KernelNotifier
    }
    var jobs: [Job] = []
    var queued: Set<InodeNumber> = []
    var running = false
}

extension OverlayFileSystem {
    /// Per directory job, at most this many files and this much content: a program that
    /// opens one file of a huge directory does not make us store all of it. A walk past the
    /// window reaches an unstored file, whose OPEN starts the next window.
    static let siblingPrefillFileLimit = 512
    static let siblingPrefillByteLimit = 16 << 20
    /// The thread stays this long after its last job: a walk starts a job per directory.
    static let siblingPrefillLingerNanoseconds: Int64 = 1_000_000_000

    /// OPEN of `node` had to store its content itself: store its directory's next files ahead.
    func prefillSiblingsAhead(of node: InodeNumber, notifier: any KernelNotifier) {
        guard let directory = state.withLock({ $0.table[node]?.parent }) else { return }
        let startThread = siblingPrefill.withLock { q -> Bool in
            guard q.queued.insert(directory).inserted else { return false }
            q.jobs.append(SiblingPrefillQueue.Job(node: node, directory: directory, notifier: notifier))
            if q.running { return false }
            q.running = true
            return true
        }
        siblingPrefill.signal()
        guard startThread else { return }
        do {
            try KernelThread.start { [self] in runSiblingPrefill() }.detach()
        } catch {
            siblingPrefill.withLock { q in q.running = false; q.jobs = []; q.queued = [] }  // the next OPEN tries again
        }
    }

    private func runSiblingPrefill() {
        let scratch = UnsafeMutableRawBufferPointer.allocate(
            byteCount: FUSENotification.storeHeaderSize + Int(Self.passthroughMinimumLowerSize), alignment: 8)
        defer { scratch.deallocate() }
        while true {
            let job = siblingPrefill.wait(until: { !$0.jobs.isEmpty }, atMostNanoseconds: Self.siblingPrefillLingerNanoseconds) { q, ready in
                guard ready else {
                    q.running = false
                    return nil as SiblingPrefillQueue.Job?
                }
                let job = q.jobs.removeFirst()
                q.queued.remove(job.directory)
                return job
            }
            guard let job else { return }
            prefillSiblings(after: job.node, in: job.directory, notifier: job.notifier, scratch: scratch)
        }
    }

    /// Stores the small lower files after `node` in `directory`'s listing that the kernel knows
    /// and nobody stored yet, one at a time, each claimed first (an OPEN arriving meanwhile
    /// leaves it to us, and reads it with READ if it overtakes us).
    private func prefillSiblings(after node: InodeNumber, in directory: InodeNumber, notifier: any KernelNotifier,
                                 scratch: UnsafeMutableRawBufferPointer) {
        guard let entries = try? listing(directory),
              let name = state.withLock({ $0.table[node]?.name }),
              let start = entries.firstIndex(where: { $0.name == name }) else { return }
        var files = 0, bytes = 0, stored = 0
        defer { logger.debug("stored the next files of a directory", metadata: ["after": "\(node)", "files": "\(stored)"]) }
        // Entries looked at are bounded too: in a huge directory the kernel may know only a few.
        for entry in entries[(start + 1)...].prefix(4 * Self.siblingPrefillFileLimit) where entry.type == 8 /* DT_REG */ {
            guard files < Self.siblingPrefillFileLimit, bytes < Self.siblingPrefillByteLimit else { return }
            guard let (id, layerIndex, path, size) = claimSiblingPrefill(entry.name, in: directory) else { continue }
            files += 1
            bytes += size
            if storeSibling(id, layer: layerIndex, path: path, size: size, notifier: notifier, scratch: scratch) {
                stored += 1
            } else {
                state.withLock { s in s.table[id]?.prefilled = false }  // its OPEN stores it
            }
        }
    }

    /// Marks the node under `name` as stored if it is a small lower file the kernel knows and
    /// nobody stored yet.
    private func claimSiblingPrefill(_ name: [UInt8], in directory: InodeNumber) -> (InodeNumber, LayerIndex, [UInt8], Int)? {
        state.withLock { s in
            guard let id = s.table.child(of: directory, named: name), var node = s.table[id],
                  node.layer != 0, !node.isDirectory, !node.prefilled, node.lookups > 0,
                  node.lowerSize > 0, node.lowerSize < Self.passthroughMinimumLowerSize,
                  let path = try? s.table.path(of: id) else { return nil }
            node.prefilled = true
            s.table[id] = node
            return (id, node.layer, path, Int(node.lowerSize))
        }
    }

    /// Reads one lower file whole and stores it; false when it could not (not on this host,
    /// changed size, unreadable).
    private func storeSibling(_ id: InodeNumber, layer index: LayerIndex, path: [UInt8], size: Int,
                              notifier: any KernelNotifier, scratch: UnsafeMutableRawBufferPointer) -> Bool {
        guard let descriptor = try? layer(index).openIfLocal(path) else { return false }
        defer { descriptor.closeQuietly() }
        let header = FUSENotification.storeHeaderSize
        let data = UnsafeMutableRawBufferPointer(rebasing: scratch[header..<(header + size)])
        guard let count = try? readFully(descriptor, into: data, at: 0), count == size else { return false }
        let message = FUSENotification.store(id, offset: 0, dataCount: count, in: scratch)
        // Under the namespace lock, so a copy-up cannot come between the check and the store:
        // the kernel must never get lower content for a file that was copied up and written.
        return namespace.withLock { _ -> Bool in
            guard state.withLock({ $0.table[id]?.layer }) == index else { return false }
            do {
                try notifier.deliver(UnsafeRawBufferPointer(message))
            } catch {
                // ENOENT: the kernel forgot the inode, and a new lookup makes a new node.
                logger.trace("page cache store refused", metadata: ["inode": "\(id)", "errno": "\(error)"])
            }
            return true
        }
    }
}
