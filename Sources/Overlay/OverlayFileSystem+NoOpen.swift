// I/O without file handles, for mounts that answer OPEN with ENOSYS (OverlayOptions.noOpen):
// the kernel then never sends OPEN or RELEASE, and READ, WRITE, FSYNC... arrive with handle 0
// and a node id. Each node keeps at most one host descriptor for them (NodeDescriptor), in a
// bounded cache (NodeDescriptorQueue), so a file read in many READs is opened once.
//
// Without OPEN the daemon cannot tell which files are open, so:
// - the first WRITE to a lower file copies it up (not the open for writing);
// - before a known upper file loses its last name (unlink, rename over it) its descriptor is
//   pinned to the node until the kernel forgets it: a program that still has it open keeps
//   reading and writing the unlinked file, as on any local filesystem. A lower file keeps its
//   data anyway, so only its path is remembered, until a change through the program's
//   descriptor copies it up unnamed (copyUpDetached).
import FUSEWire
import ScorpioSys
import Synchronization
import SystemPackage

/// A host descriptor shared by the requests of one node; closed when the last user lets go,
/// so eviction from the cache never closes a descriptor a request is still using.
final class NodeDescriptor: Sendable {
    let descriptor: FileDescriptor
    let layer: LayerIndex
    let writable: Bool
    /// Set when the node is about to lose its last name: never evicted from then on.
    let pinned = Atomic<Bool>(false)

    init(_ descriptor: FileDescriptor, layer: LayerIndex, writable: Bool) {
        self.descriptor = descriptor; self.layer = layer; self.writable = writable
    }

    deinit { descriptor.closeQuietly() }
}

/// Which nodes got a descriptor, oldest first, for evicting beyond `capacity`. Entries of
/// nodes forgotten meanwhile are skipped when they come up.
struct NodeDescriptorQueue {
    static let capacity = 256
    private var ring: [InodeNumber] = []
    private var head = 0

    /// Records that `node` got a descriptor; returns the node whose descriptor should go, if any.
    mutating func append(_ node: InodeNumber) -> InodeNumber? {
        if ring.count < Self.capacity {
            ring.append(node)
            return nil
        }
        let oldest = ring[head]
        ring[head] = node
        head = (head + 1) % Self.capacity
        return oldest
    }
}

extension OverlayFileSystem {
    /// The descriptor for a request: the handle's, or with handle 0 (no OPEN) the node's own.
    /// `writing` copies a lower file up first and asks for a writable descriptor.
    func file(_ ctx: RequestContext, _ handle: FileHandleID, inode: InodeNumber, writing: Bool) throws(Errno) -> ReadyFile {
        if handle.rawValue != 0 { return try openFile(handle) }
        return try nodeFile(ctx, inode, writing: writing)
    }

    /// The node's cached descriptor, opened (and cached) if it has none of the right kind.
    func nodeFile(_ ctx: RequestContext, _ id: InodeNumber, writing: Bool) throws(Errno) -> ReadyFile {
        var (node, path) = try state.withLock { (s) throws(Errno) -> (Node, [UInt8]?) in
            guard let node = s.table[id] else { throw .staleNFSFileHandle }
            return (node, try? s.table.path(of: id))
        }
        // A lower file's path lets a READ that misses the host's page cache read the layer's
        // next files ahead (ReadableLayer.contentMissedPageCache), as through a handle.
        let lowerPath = node.layer != 0 ? path : nil
        if let cached = node.descriptor, cached.layer == node.layer, cached.writable || !writing {
            return ReadyFile(node: id, descriptor: cached.descriptor, layer: cached.layer, keepAlive: cached, lowerPath: lowerPath)
        }
        if node.isDirectory { throw .isDirectory }
        if writing, node.layer != 0 {
            if path == nil, try copyUpDetached(id), let kept = state.withLock({ $0.table[id]?.descriptor }), kept.layer == 0 {
                return ReadyFile(node: id, descriptor: kept.descriptor, layer: 0, keepAlive: kept)
            }
            path = try changingNamespace { () throws(Errno) -> [UInt8] in try copyUp(id) }
            node.layer = 0
            invalidateChangedAttributes(ctx)
        }
        let opened: NodeDescriptor
        if node.layer == 0 {
            guard let path else { throw .staleNFSFileHandle }
            opened = try openUpperForNode(path)
        } else {
            guard let lowerPath = path ?? node.detachedLowerPath else { throw .staleNFSFileHandle }
            opened = NodeDescriptor(try layer(node.layer).openForReading(lowerPath), layer: node.layer, writable: false)
        }
        storeNodeDescriptor(opened, for: id)
        return ReadyFile(node: id, descriptor: opened.descriptor, layer: opened.layer, keepAlive: opened,
                         lowerPath: opened.layer != 0 ? lowerPath : nil)
    }

    /// Read-write when allowed (one descriptor then serves both), else read-only.
    func openUpperForNode(_ path: [UInt8]) throws(Errno) -> NodeDescriptor {
        do {
            return NodeDescriptor(try upper.root.open(at: path, flags: O_RDWR_VALUE | O_NOFOLLOW_VALUE), layer: 0, writable: true)
        } catch .permissionDenied {
            return NodeDescriptor(try upper.root.open(at: path, flags: O_RDONLY_VALUE | O_NOFOLLOW_VALUE), layer: 0, writable: false)
        } catch .readOnlyFileSystem {
            return NodeDescriptor(try upper.root.open(at: path, flags: O_RDONLY_VALUE | O_NOFOLLOW_VALUE), layer: 0, writable: false)
        }
    }

    /// Caches `opened` on the node (replacing a stale one) and evicts the oldest beyond the
    /// cache's capacity; descriptors of unlinked nodes stay, since nothing else reaches their data.
    func storeNodeDescriptor(_ opened: NodeDescriptor, for id: InodeNumber) {
        // Dropped descriptors close outside the lock (deinit closes).
        var dropped: [NodeDescriptor] = []
        state.withLock { s in
            guard var node = s.table[id] else { return }
            let hadOne = node.descriptor != nil
            if let old = node.descriptor { dropped.append(old) }
            node.descriptor = opened
            s.table[id] = node
            guard !hadOne, let oldest = s.nodeDescriptors.append(id), oldest != id,
                  var evicted = s.table[oldest], !evicted.unlinked, let old = evicted.descriptor,
                  !old.pinned.load(ordering: .relaxed) else { return }
            dropped.append(old)
            evicted.descriptor = nil
            s.table[oldest] = evicted
        }
        dropped.removeAll()
    }

    /// Before the known node named `name` in `parent` loses that name: keeps what a program
    /// that opened it (unknown to us without OPEN) needs to go on using it.
    func keepUnlinkedReachable(parent: InodeNumber, name: [UInt8], path: [UInt8]) {
        let known = state.withLock { s -> (InodeNumber, Node)? in
            guard let id = s.table.child(of: parent, named: name), let node = s.table[id], !node.isDirectory else { return nil }
            return (id, node)
        }
        guard let (id, node) = known else { return }
        if node.layer != 0 {
            // The lower file stays where it is: fstat of a handle that has no descriptor (a
            // small file served from the page cache) stats it there (hostStat), in every mode.
            state.withLock { $0.table[id]?.detachedLowerPath = path }
            return
        }
        // With OPEN, a handle's descriptor keeps the data, except for handles opened on the
        // lower copy before the copy-up, which follow the copy (followCopyUp): it is kept for
        // them here, since no path will reach it.
        guard options.noOpen || state.withLock({ $0.handles.hasLowerOpenNotFollowing(id) }) else { return }
        if let cached = node.descriptor, cached.layer == 0 {
            cached.pinned.store(true, ordering: .relaxed)
            return
        }
        guard let stat = try? upper.stat(path), stat.fileType == .regular, stat.linkCount == 1,
              let opened = try? openUpperForNode(path) else { return }
        opened.pinned.store(true, ordering: .relaxed)
        storeNodeDescriptor(opened, for: id)
    }
}

extension OverlayFileSystem {
    /// Copies up a lower file that lost its name while a program still has it open, for a
    /// change through its descriptor (fchmod, ftruncate, fsetxattr, or a write without OPEN), as
    /// overlayfs copies up such a file: into an unnamed upper file that only the node's
    /// descriptor reaches, pinned until the kernel forgets the node. Returns false when the
    /// node is not such a file.
    func copyUpDetached(_ id: InodeNumber) throws(Errno) -> Bool {
        try changingNamespace { () throws(Errno) -> Bool in
            guard let node = state.withLock({ $0.table[id] }), node.unlinked, !node.isDirectory else { return false }
            if node.layer == 0 { return true }  // done by a request before this one
            guard let lowerPath = node.detachedLowerPath else { return false }
            let source = layer(node.layer)
            let stat = try source.stat(lowerPath)
            var copy = try anonymousCopy(of: lowerPath, from: source, stat: stat, withData: true, in: [])
            if copy == nil {
                // No O_TMPFILE: a hidden name in the upper's root, removed at once.
                let name = Array(".scorpio-copyup-\(stat.inode)".utf8)
                copy = try namedCopy(of: lowerPath, from: source, stat: stat, withData: true, at: name)
                try? upper.root.remove(at: name, directory: false)
            }
            guard let copy else { return false }
            let opened = NodeDescriptor(copy, layer: 0, writable: true)
            opened.pinned.store(true, ordering: .relaxed)
            // The descriptor first: until the layer says 0 it is not used, and from then on it
            // is there (a GETATTR in between finds the lower file, or the copy, never nothing).
            storeNodeDescriptor(opened, for: id)
            state.withLock { $0.table[id]?.layer = 0 }
            return true
        }
    }
}
