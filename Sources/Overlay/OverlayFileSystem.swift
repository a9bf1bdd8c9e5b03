// The union filesystem: one writable host directory (upper) over read-only layers (lowers),
// served through FUSEWire.FileSystem. This file holds the state and the read-side operations;
// creation, removal, rename, copy-up, files, directories and xattrs have files of their own.
//
// Locking: `state` (node and handle tables) is held only for table updates, never across a
// syscall that can block for long. `namespace` serializes everything that changes names in the
// upper layer (create, remove, rename, link, copy-up), so two of them never interleave halfway.
import FUSEWire
import Logging
import ScorpioSys
import Synchronization
import SystemPackage

/// Mutable state of the overlay, always accessed under its Mutex.
struct OverlayState {
    var table: InodeTable
    var handles = HandleTable()
    var nodeDescriptors = NodeDescriptorQueue()
    /// Nodes whose st_ino changed under the kernel's cached attributes (a copied-up name of a
    /// lower hard link reports its own number and link count from then on); see
    /// OverlayFileSystem.invalidateChangedAttributes.
    var changedAttributes: [InodeNumber] = []
}

/// Options for an overlay mount.
public struct OverlayOptions: Sendable {
    /// Use FUSE passthrough for opened regular files when the session offers it.
    public var passthrough = true
    /// Serve extended attributes. Off, every xattr request gets ENOSYS once and the kernel
    /// stops sending them (virtiofsd's default): no GETXATTR of security.capability before
    /// each write and chown, at the price of no xattrs in the mount.
    public var extendedAttributes = true
    /// The session answers OPEN with ENOSYS (InitConfiguration.noOpen): CREATE returns handle 0
    /// and file I/O runs on per-node descriptors (OverlayFileSystem+NoOpen).
    public var noOpen = false
    /// The session asks for the writeback cache (InitConfiguration.writebackCache): files
    /// opened write-only get descriptors that can read too (see hostOpenFlags).
    public var writebackCache = false
    public init() {}
}

/// An overlay of host directories with kernel-overlayfs-compatible upper layer semantics.
public final class OverlayFileSystem: FileSystem {
    let upper: HostDirectoryLayer
    let lowers: [any ReadableLayer]
    let options: OverlayOptions
    let logger: Logger
    let state: Mutex<OverlayState>
    let namespace = Mutex<Void>(())
    /// Listings kept between the READDIR calls of one directory read.
    let listings = Mutex(ListingCache())
    /// Directories whose small lower files a thread stores ahead of a walk (SiblingPrefill).
    let siblingPrefill = ConditionLock(SiblingPrefillQueue())
    /// Bumped by a cancel control request; bulk prefetches stop when it changes.
    let cancelGeneration = Atomic<Int>(0)
    let runningAsRoot = effectiveUserID == 0

    /// Builds the overlay. The root node merges the upper root with every lower root.
    public init(upper: HostDirectoryLayer, lowers: [any ReadableLayer], options: OverlayOptions, logger: Logger) throws(Errno) {
        self.upper = upper
        self.lowers = lowers
        self.options = options
        self.logger = logger
        let rootStat = try upper.stat([])
        let lowerRoots = lowers.indices.map { $0 + 1 }.filter { (try? lowers[$0 - 1].stat([]))?.fileType == .directory }
        let root = Node(links: [], lookups: 1, openHandles: 0, layer: 0, lowerDirectories: lowerRoots,
                        isDirectory: true, reportedInode: rootStat.inode, lowerSize: 0,
                        key: HostKey(layer: 0, device: rootStat.device, inode: rootStat.inode), backing: nil)
        self.state = Mutex(OverlayState(table: InodeTable(root: root)))
        // Users shape the upper through the mount: its paths never follow a symlink (ConfinedRoots).
        upper.root.confine()
    }

    deinit { upper.root.releaseConfinement() }

    /// Number of nodes the kernel currently holds references to (for benchmarks and tests).
    public var liveNodeCount: Int { state.withLock { $0.table.count } }

    // MARK: - Helpers shared by the operation files

    /// The node and its current path.
    func locate(_ id: InodeNumber) throws(Errno) -> (node: Node, path: [UInt8]) {
        try state.withLock { (s) throws(Errno) -> (Node, [UInt8]) in
            guard let node = s.table[id] else { throw .staleNFSFileHandle }
            return (node, try s.table.path(of: id))
        }
    }

    /// The directory node and its path; ENOTDIR when it is not one.
    func locateDirectory(_ id: InodeNumber) throws(Errno) -> (node: Node, path: [UInt8]) {
        let found = try locate(id)
        guard found.node.isDirectory else { throw .notDirectory }
        return found
    }

    /// FUSE attributes from a host stat, with the node's stable st_ino. A merged directory
    /// reports one link, as on kernel overlayfs: its host count covers only one layer's
    /// subdirectories, and tools that count links to skip leaf directories would miss the rest.
    func attributes(_ stat: FileStat, reportedInode: UInt64, merged: Bool = false) -> Attributes {
        Attributes(inode: reportedInode, size: stat.size, blocks: stat.blocks,
                   accessSeconds: stat.accessTime.seconds, modificationSeconds: stat.modificationTime.seconds,
                   changeSeconds: stat.changeTime.seconds, accessNanoseconds: stat.accessTime.nanoseconds,
                   modificationNanoseconds: stat.modificationTime.nanoseconds, changeNanoseconds: stat.changeTime.nanoseconds,
                   mode: stat.mode, linkCount: merged && stat.fileType == .directory ? 1 : stat.linkCount, uid: stat.uid, gid: stat.gid,
                   rdev: encodeDeviceForFUSE(stat.rdev), blockSize: stat.blockSize)
    }

    /// Registers a freshly resolved child as a node (one lookup reference) and builds its entry.
    func makeEntry(parent: InodeNumber, name: [UInt8], resolved: Resolved) -> Entry {
        state.withLock { s in
            let reported = resolved.origin ?? reportedInode(layer: resolved.layer, inode: resolved.stat.inode)
            let (id, node) = s.table.reference(parent: parent, name: name, resolved: resolved, reportedInode: reported)
            return Entry(inode: id, attributes: attributes(resolved.stat, reportedInode: node.reportedInode,
                                                           merged: !resolved.lowerDirectories.isEmpty))
        }
    }

    /// Runs a namespace change under the namespace lock. `directories` are those whose names
    /// it may change: their cached listings are dropped afterwards.
    func changingNamespace<R>(in directories: [InodeNumber] = [], _ body: () throws(Errno) -> R) throws(Errno) -> R {
        defer { if !directories.isEmpty { listings.withLock { cache in for directory in directories { cache.forget(directory) } } } }
        return try namespace.withLock { (_) throws(Errno) -> R in try body() }
    }

    // MARK: - Lookup and attributes

    public func lookup(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno) -> Entry {
        let (directory, path) = try locateDirectory(parent)
        if name == [0x2e, 0x2e] || name == [0x2e] {
            // Only asked for by NFS export (EXPORT_SUPPORT): the parent, or the directory itself.
            let target = name.count == 2 ? directory.parent : parent
            let found = try locate(target)
            let stat = try layer(found.node.layer).stat(found.path)
            return makeEntry(parent: found.node.parent, name: found.node.name,
                             resolved: Resolved(layer: found.node.layer, stat: stat, lowerDirectories: found.node.lowerDirectories))
        }
        guard let resolved = try resolve(name, in: path, layers: directory.directoryLayers) else {
            throw .noSuchFileOrDirectory
        }
        return makeEntry(parent: parent, name: name, resolved: resolved)
    }

    public func forget(_ inode: InodeNumber, count: UInt64) {
        // glibc keeps freed memory for reuse; after the node tables shrank by three quarters,
        // hand the pages the forgotten nodes used back, so the daemon's RSS follows the kernel's
        // inode cache down (560k nodes forgotten: see the README).
        if state.withLock({ $0.table.forget(inode, count: count) }) { FreedMemory.release() }
    }

    /// Host attributes of a node: by path, or through an open descriptor once it is unlinked.
    func hostStat(_ id: InodeNumber) throws(Errno) -> (Node, FileStat) {
        let node: Node, path: [UInt8]?
        (node, path) = try state.withLock { (s) throws(Errno) -> (Node, [UInt8]?) in
            guard let node = s.table[id] else { throw .staleNFSFileHandle }
            return (node, try? s.table.path(of: id))
        }
        if let path, let stat = try? layer(node.layer).stat(path) { return (node, stat) }
        if let lowerPath = node.detachedLowerPath, node.layer != 0 { return (node, try layer(node.layer).stat(lowerPath)) }
        // Nameless: an open descriptor of its current copy (a copy, so that a RELEASE on
        // another thread cannot close it meanwhile), else of any copy.
        let open = state.withLock { s -> FileDescriptor? in
            let kept = s.table[id]?.descriptor.flatMap { $0.layer == node.layer ? $0.descriptor : nil }
            let any = kept ?? s.handles.anyDescriptor(of: id, upperOnly: node.layer == 0) ?? s.handles.anyDescriptor(of: id)
            return any.flatMap { try? $0.duplicate() }
        }
        guard let open else { throw .noSuchFileOrDirectory }
        defer { open.closeQuietly() }
        return (node, try open.stat())
    }

    public func getAttributes(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID?) throws(Errno) -> Attributes {
        let (node, stat) = try hostStat(inode)
        return attributes(stat, reportedInode: node.reportedInode, merged: !node.lowerDirectories.isEmpty)
    }

    public func readLink(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) -> [UInt8] {
        let (node, path) = try locate(inode)
        return try layer(node.layer).readLink(path)
    }

    public func statistics(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) -> StatFS {
        let s = try upper.statistics()
        return StatFS(blocks: s.blocks, freeBlocks: s.freeBlocks, availableBlocks: s.availableBlocks, files: s.files,
                      freeFiles: s.freeFiles, blockSize: s.blockSize, nameMax: s.nameMax, fragmentSize: s.fragmentSize)
    }

    /// With default_permissions the kernel checks access itself; this answers existence.
    public func access(_ ctx: RequestContext, inode: InodeNumber, mask: UInt32) throws(Errno) {
        _ = try hostStat(inode)
    }

    public func destroy() {
        let open = state.withLock { s in
            s.table.dropNodeDescriptors()
            return s.handles.removeAll()
        }
        for file in open {
            file.descriptor?.closeQuietly()
            for retired in file.retired { retired.closeQuietly() }
        }
    }
}
