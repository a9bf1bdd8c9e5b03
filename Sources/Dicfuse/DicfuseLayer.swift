// Dicfuse: a git commit as a read-only overlay layer. Trees come from the object store (fetched
// up front at mount); blob sizes come from the store, from object-info, or — when the server
// cannot tell sizes — from fetching the blobs of a directory in one batch on its first
// stat-bearing listing. File contents are fetched on first open and kept as plain files in the
// content store, which the overlay opens for FUSE passthrough. Files show the raw blob content
// (no .gitattributes filters), as `git cat-file blob` prints it.
import Dispatch
import Glibc
import Logging
import Overlay
import ScorpioSys
import Synchronization
import SystemPackage

/// Which neighbours to fetch along with a missed blob.
public enum PrefetchPolicy: String, Sendable, CaseIterable {
    case none, siblings, all
}

/// A read-only layer showing one commit of a git repository.
public final class DicfuseLayer: ReadableLayer {
    public let name: String
    let store: ObjectStore
    let remote: GitRemote?
    let rootTree: ObjectID
    let commitTime: Int64
    let prefetch: PrefetchPolicy
    /// Fetch trees on first lookup instead of relying on a complete store (`--trees lazy`).
    let lazyTrees: Bool
    let logger: Logger
    let trees = Mutex<[ObjectID: [TreeEntry]]>([:])
    private let recentDirectories = Mutex(RecentDirectories())
    /// Known blob sizes per tree, as stored under sizes/: read once per directory instead of
    /// once per stat of each of its files. Bounded like the tree cache.
    private let sizeTables = Mutex<[ObjectID: [UInt64]]>([:])
    let inflight = Mutex<[ObjectID: FetchWaiter]>([:])
    /// Blobs fetched a moment ago (taken after `inflight` when both are held).
    let recentlyFetched = Mutex(RecentObjects())
    /// Blobs planning found missing from the content store since (`isCached`).
    let recentlyMissing = Mutex(RecentObjects())
    /// Size lookups (object-info) in flight, by tree.
    let sizeLookups = Mutex<[ObjectID: FetchWaiter]>([:])
    /// Until when (CLOCK_MONOTONIC ns) a miss continues a walk: misses in quick succession
    /// mean a program is walking the tree, and prefetch then reaches wider.
    let walkDeadline = Atomic<Int64>(0)
    /// Blobs the next batch of a walk may take: doubles with each batch of one walk, from
    /// `batchLimit` to `walkBlobLimit`, and starts over when the walk ends.
    let walkBudget = Atomic<Int>(DicfuseLayer.batchLimit)
    /// Set while a walk's next window is fetched in the background; the thread doing it.
    let walkAheadRunning = Atomic<Bool>(false)
    let walkAheadThread = Mutex<KernelThread?>(nil)
    /// The first blobs of the window last fetched ahead of a walk (DicfuseLayer+WalkMarkers).
    let walkMarkers = Mutex<Set<ObjectID>>([])
    /// Whether `walkMarkers` holds any, read without the lock by every OPEN.
    let hasWalkMarkers = Atomic<Bool>(false)
    /// Set once a symlink miss has taken the symlinks of every stored tree along
    /// (DicfuseLayer+Symlinks).
    let symlinkSweepDone = Atomic<Bool>(false)
    /// A marker reached while the walk-ahead thread was busy: it plans from there next.
    let pendingWalkAnchor = Mutex<WalkAnchor?>(nil)
    /// Blobs this layer's open files use, published for `cache gc`; nil if the table could
    /// not be created (OPEN then opens each blob).
    let pins: BlobPins?
    /// Moves the access times of blobs that open files use without reading them.
    let toucher: BlobToucher
    /// Reads cached blobs ahead of a walk when the page cache lacks them.
    let readAhead: DiskReadAhead

    /// Parsed trees kept in memory at most; beyond it the cache starts over, so memory stays
    /// bounded whatever the repository's size (the store on disk keeps them all).
    static let treeCacheLimit = 20_000

    public init(name: String, store: ObjectStore, remote: GitRemote?, commit: ObjectID, prefetch: PrefetchPolicy,
                lazyTrees: Bool = false, logger: Logger) throws(Errno) {
        guard let raw = store.metadata(commit), let parsed = try? Commit.parse(raw) else { throw .noSuchFileOrDirectory }
        self.name = name
        self.store = store
        self.remote = remote
        self.rootTree = parsed.tree
        self.commitTime = parsed.committerTime
        self.prefetch = prefetch
        self.lazyTrees = lazyTrees
        self.logger = logger
        do {
            self.pins = try BlobPins(cacheRoot: store.root)
        } catch {
            logger.warning("cannot create a blob pin table; open files will hold their blobs open", metadata: ["error": "\(error)"])
            self.pins = nil
        }
        self.toucher = BlobToucher(store: store)
        self.readAhead = DiskReadAhead(store: store)
    }

    // MARK: Trees and paths

    /// The stored size table of `tree`, from memory when it was read before.
    func sizes(of tree: ObjectID) -> [UInt64]? {
        if let known = sizeTables.withLock({ $0[tree] }) { return known }
        guard let table = store.sizes(of: tree) else { return nil }
        sizeTables.withLock { cache in
            if cache.count >= Self.treeCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[tree] = table
        }
        return table
    }

    /// Forgets a memoized size table after it was stored anew.
    func forgetSizes(of tree: ObjectID) {
        _ = sizeTables.withLock { $0.removeValue(forKey: tree) }
    }

    /// The entries of tree `id`. With `--trees lazy` a missing tree is fetched, along with the
    /// missing trees of the other subdirectories of `parent` (the tree that holds it).
    func tree(_ id: ObjectID, siblingsIn parent: ObjectID? = nil) throws(Errno) -> [TreeEntry] {
        if let known = try knownTree(id) { return known }
        guard lazyTrees || remote != nil else {
            logger.error("tree missing from the cache", metadata: ["object": "\(id.hex)"])
            throw .ioError
        }
        if !lazyTrees {  // an eager mount's tree lost to a damaged cache file: fetched again
            logger.warning("tree missing from the cache; fetching it", metadata: ["object": "\(id.hex)"])
        }
        let siblings = parent.flatMap { (try? knownTree($0)) ?? nil } ?? []
        try fetchTreeOnce(id, siblings: siblings)
        guard let fetched = try knownTree(id) else { throw .ioError }
        return fetched
    }

    /// A tree from memory or the store; nil where only the server has it.
    func knownTree(_ id: ObjectID) throws(Errno) -> [TreeEntry]? {
        if let cached = trees.withLock({ $0[id] }) { return cached }
        guard let raw = store.metadata(id) else { return nil }
        guard var entries = try? TreeParser.parse(raw) else { throw .ioError }
        if !entries.isInGitOrder { entries = entries.sortedInGitOrder() }  // lookups search in this order
        trees.withLock { cache in
            if cache.count >= Self.treeCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[id] = entries
        }
        return entries
    }

    /// The entry at `path`, with the tree that holds it; nil entry for the root.
    func locate(_ path: [UInt8]) throws(Errno) -> (entry: TreeEntry?, parent: ObjectID, index: Int) {
        if path.isEmpty { return (nil, rootTree, -1) }
        let slash = path.lastIndex(of: UInt8(ascii: "/"))
        let parent = try slash.map { (end) throws(Errno) in try directoryTree(path[..<end]) } ?? rootTree
        let entries = try tree(parent)
        guard let index = entries.gitIndex(of: path[(slash.map { $0 + 1 } ?? 0)...]) else { throw .noSuchFileOrDirectory }
        return (entries[index], parent, index)
    }

    /// The tree of the directory at `path` (not empty), from the recent ones or from the root.
    func directoryTree(_ path: ArraySlice<UInt8>) throws(Errno) -> ObjectID {
        if let known = recentDirectories.withLock({ $0.tree(of: path) }) { return known }
        var current = rootTree
        var parent: ObjectID? = nil
        for component in path.split(separator: UInt8(ascii: "/")) {
            let entries = try tree(current, siblingsIn: parent)
            guard let index = entries.gitIndex(of: component) else { throw .noSuchFileOrDirectory }
            let entry = entries[index]
            guard entry.kind == .directory else { throw entry.kind == .gitlink ? .noSuchFileOrDirectory : .notDirectory }
            parent = current
            current = entry.id
        }
        recentDirectories.withLock { $0.remember(path, tree: current) }
        return current
    }

    /// A stable inode number per path (FNV-1a), so two paths with the same blob are not
    /// mistaken for hard links.
    func inode(_ path: [UInt8]) -> UInt64 {
        (fnv1a(path) & 0x0000_FFFF_FFFF_FFFF) | 2
    }

    /// Ends the git processes of idle connections (GitRemote.closeIdleConnections).
    public func closeIdleRemoteConnections() {
        remote?.closeIdleConnections()
    }

    // MARK: ReadableLayer

    public func stat(_ path: [UInt8]) throws(Errno) -> FileStat {
        let (entry, parent, index) = try locate(path)
        let time = TimeSpec(seconds: commitTime, nanoseconds: 0)
        func make(_ mode: UInt32, _ size: UInt64) -> FileStat {
            FileStat(device: 0, inode: inode(path), mode: mode, linkCount: 1, size: size, blocks: (size + 511) / 512,
                     accessTime: time, modificationTime: time, changeTime: time)
        }
        guard let entry else { return make(ScorpioSys.FileType.directory.rawValue | 0o755, 4096) }
        switch entry.kind {
        case .directory, .gitlink: return make(ScorpioSys.FileType.directory.rawValue | 0o755, 4096)
        case .file: return make(ScorpioSys.FileType.regular.rawValue | 0o644, try blobSize(parent: parent, index: index, path: path))
        case .executable: return make(ScorpioSys.FileType.regular.rawValue | 0o755, try blobSize(parent: parent, index: index, path: path))
        case .symlink: return make(ScorpioSys.FileType.symlink.rawValue | 0o777, try blobSize(parent: parent, index: index, path: path))
        }
    }

    public func list(_ path: [UInt8]) throws(Errno) -> [HostDirectoryEntry] {
        let (entry, parent, _) = try locate(path)
        if let entry, entry.kind == .gitlink { return [] }  // submodules show as empty directories
        if let entry, entry.kind != .directory { throw .notDirectory }
        return try tree(entry?.id ?? rootTree, siblingsIn: entry == nil ? nil : parent).map { child in
            let type: UInt8 = switch child.kind {
            case .directory, .gitlink: 4
            case .symlink: 10
            case .file, .executable: 8
            }
            var childPath = path
            if !childPath.isEmpty { childPath.append(UInt8(ascii: "/")) }
            childPath.append(contentsOf: child.name)
            return HostDirectoryEntry(name: child.name, direntType: type, inode: inode(childPath))
        }
    }

    public func readLink(_ path: [UInt8]) throws(Errno) -> [UInt8] {
        let fd = try openForReading(path)
        defer { fd.closeQuietly() }
        let size = Int(try fd.stat().size)
        var target = [UInt8](repeating: 0, count: size)
        let count = try typedErrno { try target.withUnsafeMutableBytes { try fd.read(into: $0, at: 0) } }
        return Array(target[0..<count])
    }

    /// `cache gc` evicts blobs that no process has open and no mount has pinned: an open file
    /// pins its blob (BlobPins), and the first READ opens it. Without a pin table (it could not
    /// be created) OPEN opens the blob, which keeps it from gc as well.
    public func holdContent(_ path: [UInt8]) throws(Errno) -> ContentHold? {
        guard let pins else { return nil }
        let entry = try fileBeingOpened(path).entry
        toucher.noteUse(entry.id)
        return .pinned(slot: pins.pin(entry.id))
    }

    /// The tree entry (and its directory) of a file some open uses, noted as walk progress
    /// (WalkMarkers).
    private func fileBeingOpened(_ path: [UInt8]) throws(Errno) -> (entry: TreeEntry, parent: ObjectID) {
        let (entry, parent, _) = try locate(path)
        guard let entry, entry.kind != .directory, entry.kind != .gitlink else { throw .isDirectory }
        noteWalkProgress(entry.id, in: parent, path: path)
        return (entry, parent)
    }

    public func releaseContent(_ hold: ContentHold) {
        if case .pinned(let slot) = hold { pins?.unpin(slot: slot) }
    }

    /// The sibling stores open files ahead of the program: a mark reached there starts the
    /// next window all the sooner.
    public func openIfLocal(_ path: [UInt8]) throws(Errno) -> FileDescriptor? {
        let entry = try fileBeingOpened(path).entry
        do {
            let fd = try store.openBlob(entry.id)
            toucher.noteUse(entry.id)
            return fd
        } catch .noSuchFileOrDirectory {
            return nil
        }
    }

    public func openForReading(_ path: [UInt8]) throws(Errno) -> FileDescriptor {
        let (entry, parent) = try fileBeingOpened(path)
        let fd: FileDescriptor
        var fetches = 0
        while true {
            do {
                fd = try store.openBlob(entry.id)
                break
            } catch .noSuchFileOrDirectory where fetches < 2 {
                // Not cached. A second time: another process sharing the cache had stored it,
                // and removed it again when its pack failed the trailer check.
                fetches += 1
                try ensureBlob(entry.id, in: parent, path: path, symlinkTarget: entry.kind == .symlink)
            }
        }
        // The access time is the cache's LRU clock (`cache gc`); relatime alone would not move
        // it. The toucher sets it in the background, once per blob per mount.
        toucher.noteUse(entry.id)
        return fd
    }

    public func extendedAttributeNames(_ path: [UInt8]) throws(Errno) -> [[UInt8]] {
        _ = try locate(path)
        return []
    }

    public func extendedAttribute(_ path: [UInt8], name: [UInt8]) throws(Errno) -> [UInt8]? {
        _ = try locate(path)
        return nil
    }

    public func statistics() throws(Errno) -> FileSystemStatistics {
        let fd = try FileDescriptor(rawValue: AT_FDCWD_VALUE).open(at: Array(store.root.utf8), flags: O_RDONLY_VALUE | O_DIRECTORY_VALUE)
        defer { fd.closeQuietly() }
        return try fd.fileSystemStatistics()
    }
}
