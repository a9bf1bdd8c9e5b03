// The contract between the dispatcher and a filesystem. It speaks FUSE's model (node ids with
// lookup counts, file handles) but knows nothing of transports or byte layouts. A core of
// operations is required; the rest default to ENOSYS in the extension below.
import SystemPackage

/// What LOOKUP, MKDIR, CREATE and friends return: a node id plus its attributes.
///
/// Lookup-count contract: every `Entry` returned to the dispatcher (from lookup, mknod, mkdir,
/// symlink, link, create, or a READDIRPLUS lookup) is one reference the kernel will give back
/// with FORGET. The dispatcher calls `forget` itself when it cannot deliver an entry.
public struct Entry: Sendable {
    public var inode: InodeNumber
    public var generation: UInt64
    public var attributes: Attributes

    public init(inode: InodeNumber, generation: UInt64 = 0, attributes: Attributes) {
        self.inode = inode; self.generation = generation; self.attributes = attributes
    }
}

/// The result of OPEN, OPENDIR and CREATE (struct fuse_open_out).
public struct OpenResult: Sendable {
    public var handle: FileHandleID
    /// FOPEN_* flags.
    public var flags: OpenReplyFlags
    /// Set together with `.passthrough`.
    public var backingID: BackingID?
    /// The size of a small file that never changes, to be read now and stored in the kernel's
    /// page cache before the reply (FUSE_NOTIFY_STORE, with `.keepCache`); 0 for none. The
    /// program's reads then cost no round trip at all, and no GETATTR after them: a READ marks
    /// the kernel's atime stale, so a stat after the first READ would ask us again.
    public var prefill: Int

    public init(handle: FileHandleID, flags: OpenReplyFlags = [], backingID: BackingID? = nil, prefill: Int = 0) {
        self.handle = handle; self.flags = flags; self.backingID = backingID; self.prefill = prefill
    }
}

/// FOPEN_* bits of struct fuse_open_out.
public struct OpenReplyFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// FOPEN_DIRECT_IO
    public static let directIO = OpenReplyFlags(rawValue: 1 << 0)
    /// FOPEN_KEEP_CACHE
    public static let keepCache = OpenReplyFlags(rawValue: 1 << 1)
    /// FOPEN_NONSEEKABLE
    public static let nonSeekable = OpenReplyFlags(rawValue: 1 << 2)
    /// FOPEN_CACHE_DIR
    public static let cacheDirectory = OpenReplyFlags(rawValue: 1 << 3)
    /// FOPEN_PARALLEL_DIRECT_WRITES
    public static let parallelDirectWrites = OpenReplyFlags(rawValue: 1 << 6)
    /// FOPEN_PASSTHROUGH
    public static let passthrough = OpenReplyFlags(rawValue: 1 << 7)
}

/// One directory entry as READDIR lists it. `nextOffset` is the cookie the kernel passes back
/// to continue after this entry.
public struct DirectoryEntry: Sendable {
    public var name: [UInt8]
    public var inode: UInt64
    /// DT_* type.
    public var type: UInt32
    public var nextOffset: UInt64

    public init(name: [UInt8], inode: UInt64, type: UInt32, nextOffset: UInt64) {
        self.name = name; self.inode = inode; self.type = type; self.nextOffset = nextOffset
    }
}

/// Registers host files as passthrough backing files (FUSE_DEV_IOC_BACKING_OPEN/CLOSE). The
/// transport implements it, because it owns the device descriptor.
public protocol BackingFileRegistrar: Sendable {
    /// Registers `fd`; the kernel keeps its own reference, so the caller may close `fd` after.
    func open(_ fd: FileDescriptor) throws(Errno) -> BackingID
    /// Drops a registration made by `open`.
    func close(_ id: BackingID)
}

/// A filesystem served over FUSE. All calls may arrive concurrently from several threads.
public protocol FileSystem: Sendable {
    /// FUSE_LOOKUP: one lookup reference on success.
    func lookup(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno) -> Entry
    /// FUSE_FORGET / FUSE_BATCH_FORGET: drop `count` lookup references. No reply is sent.
    func forget(_ inode: InodeNumber, count: UInt64)
    /// FUSE_GETATTR.
    func getAttributes(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID?) throws(Errno) -> Attributes
    /// FUSE_SETATTR.
    func setAttributes(_ ctx: RequestContext, inode: InodeNumber, changes: AttributeChanges) throws(Errno) -> Attributes
    /// FUSE_READLINK.
    func readLink(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) -> [UInt8]
    /// FUSE_SYMLINK.
    func symlink(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], target: [UInt8]) throws(Errno) -> Entry
    /// FUSE_MKNOD. `mode` has the caller's umask applied by the kernel, or, under
    /// FUSE_DONT_MASK, it comes in `ctx.umask` for the filesystem to apply (MKDIR, CREATE too).
    func makeNode(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32, device: UInt32) throws(Errno) -> Entry
    /// FUSE_MKDIR.
    func makeDirectory(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32) throws(Errno) -> Entry
    /// FUSE_UNLINK.
    func unlink(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno)
    /// FUSE_RMDIR.
    func removeDirectory(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno)
    /// FUSE_RENAME / FUSE_RENAME2; `flags` are RENAME_NOREPLACE/EXCHANGE/WHITEOUT.
    func rename(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], newParent: InodeNumber, newName: [UInt8], flags: UInt32) throws(Errno)
    /// FUSE_LINK.
    func link(_ ctx: RequestContext, inode: InodeNumber, newParent: InodeNumber, newName: [UInt8]) throws(Errno) -> Entry
    /// FUSE_OPEN.
    func open(_ ctx: RequestContext, inode: InodeNumber, flags: UInt32) throws(Errno) -> OpenResult
    /// FUSE_CREATE: an entry (one lookup reference) and an open handle.
    func create(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32, flags: UInt32) throws(Errno) -> (Entry, OpenResult)
    /// FUSE_TMPFILE (open(2) with O_TMPFILE): a new regular file in `parent` without a name,
    /// as an entry and an open handle; a LINK of its node may give it a name later. ENOSYS
    /// (the default) makes the kernel answer EOPNOTSUPP from then on.
    func createUnnamed(_ ctx: RequestContext, parent: InodeNumber, mode: UInt32, flags: UInt32) throws(Errno) -> (Entry, OpenResult)
    /// FUSE_READ into `buffer`; returns the byte count (short only at end of file).
    func read(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int
    /// FUSE_WRITE; returns the byte count written.
    func write(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, data: UnsafeRawBufferPointer) throws(Errno) -> Int
    /// FUSE_READ into a transport's scattered buffers (default: one `read` per buffer).
    func read(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, into destination: IOVectors) throws(Errno) -> Int
    /// FUSE_WRITE from a transport's scattered buffers (default: one `write` per buffer).
    func write(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, from source: IOVectors) throws(Errno) -> Int
    /// Clears setuid, setgid (if group-executable) and file capabilities of an open file, as a
    /// write, truncating open or truncate by an unprivileged caller does (HANDLE_KILLPRIV_V2).
    func dropSetIDBits(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) throws(Errno)
    /// Clears setgid after an ACL change by a caller outside the file's group
    /// (FUSE_SETXATTR_ACL_KILL_SGID).
    func dropSetGID(_ ctx: RequestContext, inode: InodeNumber) throws(Errno)
    /// FUSE_RELEASE: the handle is not used again.
    func release(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID)
    /// FUSE_OPENDIR.
    func openDirectory(_ ctx: RequestContext, inode: InodeNumber, flags: UInt32) throws(Errno) -> OpenResult
    /// FUSE_READDIR / READDIRPLUS: calls `emit` for the entries after cookie `offset`, in order,
    /// until `emit` returns false (the reply is full) or the directory ends.
    func readDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                       emit: (DirectoryEntry) -> Bool) throws(Errno)
    /// FUSE_RELEASEDIR.
    func releaseDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID)
    /// FUSE_STATFS.
    func statistics(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) -> StatFS

    // Optional operations: the defaults below answer ENOSYS (or succeed where that is harmless).
    func flush(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) throws(Errno)
    func synchronize(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, dataOnly: Bool) throws(Errno)
    func synchronizeDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, dataOnly: Bool) throws(Errno)
    func access(_ ctx: RequestContext, inode: InodeNumber, mask: UInt32) throws(Errno)
    func setExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8], value: UnsafeRawBufferPointer, flags: UInt32) throws(Errno)
    /// FUSE_GETXATTR: with an empty buffer, returns the value's size only.
    func getExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8], into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int
    /// FUSE_LISTXATTR: NUL-separated names; with an empty buffer, returns the size only.
    func listExtendedAttributes(_ ctx: RequestContext, inode: InodeNumber, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int
    func removeExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8]) throws(Errno)
    func allocate(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, length: UInt64, mode: UInt32) throws(Errno)
    func seek(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, whence: UInt32) throws(Errno) -> UInt64
    func copyRange(_ ctx: RequestContext, inode: InodeNumber, _ range: RequestBody.CopyFileRange) throws(Errno) -> Int
    /// FUSE_DESTROY, or the end of the session: release everything.
    func destroy()
}

extension FileSystem {
    public func createUnnamed(_ ctx: RequestContext, parent: InodeNumber, mode: UInt32, flags: UInt32) throws(Errno) -> (Entry, OpenResult) { throw .noFunction }
    public func flush(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) throws(Errno) {}
    public func dropSetIDBits(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) throws(Errno) {}
    public func dropSetGID(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) {}
    public func synchronize(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, dataOnly: Bool) throws(Errno) {}
    public func synchronizeDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, dataOnly: Bool) throws(Errno) {}
    public func access(_ ctx: RequestContext, inode: InodeNumber, mask: UInt32) throws(Errno) { throw .noFunction }
    public func setExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8], value: UnsafeRawBufferPointer, flags: UInt32) throws(Errno) { throw .noFunction }
    public func getExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8], into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int { throw .noFunction }
    public func listExtendedAttributes(_ ctx: RequestContext, inode: InodeNumber, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int { throw .noFunction }
    public func removeExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8]) throws(Errno) { throw .noFunction }
    public func allocate(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, length: UInt64, mode: UInt32) throws(Errno) { throw .noFunction }
    public func seek(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, whence: UInt32) throws(Errno) -> UInt64 { throw .noFunction }
    public func copyRange(_ ctx: RequestContext, inode: InodeNumber, _ range: RequestBody.CopyFileRange) throws(Errno) -> Int { throw .noFunction }
    public func destroy() {}
}
