// The layer contract: narrower than FUSE, path-based, no lookup counts or handles (those are
// the overlay's). A lower layer only has to answer questions about paths relative to its root;
// the upper layer is a host directory the overlay writes to with *at calls.
import ScorpioSys
import Synchronization
import SystemPackage

/// A read-only layer under the overlay: host directories today, the Dicfuse git layer later.
/// Paths are relative to the layer root, byte strings without a leading '/'; empty is the root.
public protocol ReadableLayer: Sendable {
    /// A short name for logs ("lower 1: /srv/base").
    var name: String { get }
    /// lstat of `path`; ENOENT when it does not exist.
    func stat(_ path: [UInt8]) throws(Errno) -> FileStat
    /// The entries of the directory `path`.
    func list(_ path: [UInt8]) throws(Errno) -> [HostDirectoryEntry]
    /// The target of the symlink `path`.
    func readLink(_ path: [UInt8]) throws(Errno) -> [UInt8]
    /// Opens `path` read-only. The descriptor is a real host file, so it can back FUSE passthrough.
    func openForReading(_ path: [UInt8]) throws(Errno) -> FileDescriptor
    /// Opens `path` read-only if its content is on this host already, nil if getting it would
    /// take a fetch (background work must not start one).
    func openIfLocal(_ path: [UInt8]) throws(Errno) -> FileDescriptor?
    /// Names of the extended attributes of `path`.
    func extendedAttributeNames(_ path: [UInt8]) throws(Errno) -> [[UInt8]]
    /// The value of one extended attribute, nil when absent.
    func extendedAttribute(_ path: [UInt8], name: [UInt8]) throws(Errno) -> [UInt8]?
    /// statvfs of the layer's filesystem.
    func statistics() throws(Errno) -> FileSystemStatistics
    /// Fetches everything under `path` in bulk, for layers that load lazily; returns how many
    /// objects it fetched. `cancelled` is polled between batches.
    func prefetchSubtree(_ path: [UInt8], cancelled: () -> Bool) throws(Errno) -> Int
    /// What the layer has fetched so far (objects, bytes), for progress displays, and how many
    /// objects are being fetched now (a test waits for none before it counts).
    var fetchedTotals: (objects: Int, bytes: Int, inFlight: Int) { get }
    /// Keeps `path`'s content available while a handle has it open, without opening it, so
    /// OPEN can leave the open to the first READ (a file served from the page cache is never
    /// READ). `.notNeeded` where content outlives its descriptors (host directories); nil where
    /// only an open descriptor keeps it (OPEN then opens the file).
    func holdContent(_ path: [UInt8]) throws(Errno) -> ContentHold?
    /// Ends a hold when its handle is released.
    func releaseContent(_ hold: ContentHold)
    /// Whether the layer wants `contentMissedPageCache` (asking the page cache costs a
    /// system call per read of a small lower file).
    var readsAhead: Bool { get }
    /// A read of `path` found its content outside the host's page cache (it will wait for the
    /// disk): a layer whose files a walk reads in a known order may read the next ones ahead.
    func contentMissedPageCache(_ path: [UInt8])
}

/// What keeps an open file's content from eviction until its handle is released.
public enum ContentHold: Sendable, Equatable {
    /// The layer never evicts (host directories).
    case notNeeded
    /// A counter of the layer's pin table (Dicfuse: `cache gc` keeps pinned blobs).
    case pinned(slot: Int)
}

extension ReadableLayer {
    /// Host directories are all there already.
    public func prefetchSubtree(_ path: [UInt8], cancelled: () -> Bool) throws(Errno) -> Int { 0 }
    public var fetchedTotals: (objects: Int, bytes: Int, inFlight: Int) { (0, 0, 0) }
    public func openIfLocal(_ path: [UInt8]) throws(Errno) -> FileDescriptor? { try openForReading(path) }
    public func holdContent(_ path: [UInt8]) throws(Errno) -> ContentHold? { .notNeeded }
    public func releaseContent(_ hold: ContentHold) {}
    public var readsAhead: Bool { false }
    public func contentMissedPageCache(_ path: [UInt8]) {}
}

/// A host directory used as a layer. It holds one descriptor, for its root.
public final class HostDirectoryLayer: ReadableLayer {
    public let name: String
    /// The layer root; every operation is relative to it.
    public let root: FileDescriptor
    /// An O_PATH descriptor of the whiteout that new whiteouts are hard links of (see
    /// makeWhiteout); nil until the first one is made.
    let sharedWhiteout = Mutex<FileDescriptor?>(nil)

    /// Opens `path` as a layer root. The caller checked that it is a directory.
    public init(path: String, name: String) throws(Errno) {
        self.name = name
        self.root = try FileDescriptor(rawValue: AT_FDCWD_VALUE).open(at: Array(path.utf8), flags: O_RDONLY_VALUE | O_DIRECTORY_VALUE)
    }

    deinit {
        root.closeQuietly()
        sharedWhiteout.withLock { $0?.closeQuietly() }
    }

    /// The path as *at calls want it: "." for the root.
    @inline(__always) static func relative(_ path: [UInt8]) -> [UInt8] { path.isEmpty ? [0x2e] : path }

    public func stat(_ path: [UInt8]) throws(Errno) -> FileStat { try root.stat(at: path) }
    public func list(_ path: [UInt8]) throws(Errno) -> [HostDirectoryEntry] { try root.listDirectory(at: path) }
    public func readLink(_ path: [UInt8]) throws(Errno) -> [UInt8] { try root.readLink(at: Self.relative(path)) }
    public func openForReading(_ path: [UInt8]) throws(Errno) -> FileDescriptor {
        try root.open(at: Self.relative(path), flags: O_RDONLY_VALUE | O_NOFOLLOW_VALUE)
    }
    public func extendedAttributeNames(_ path: [UInt8]) throws(Errno) -> [[UInt8]] {
        try root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.names(path: procPath) }
    }
    public func extendedAttribute(_ path: [UInt8], name: [UInt8]) throws(Errno) -> [UInt8]? {
        try root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.value(path: procPath, name: name) }
    }
    public func statistics() throws(Errno) -> FileSystemStatistics { try root.fileSystemStatistics() }
}
