// Encoders for the reply structs, one function per struct of include/uapi/linux/fuse.h.

/// Cache lifetimes the kernel is told in entry and attribute replies.
public struct CacheTimeouts: Sendable, Equatable {
    public var entrySeconds: Double
    public var attributeSeconds: Double
    public init(entrySeconds: Double = 1, attributeSeconds: Double = 1) {
        self.entrySeconds = entrySeconds; self.attributeSeconds = attributeSeconds
    }
}

extension ReplyWriter {
    /// struct fuse_attr (88 bytes).
    public mutating func attr(_ a: Attributes) {
        put(a.inode); put(a.size); put(a.blocks)
        put(UInt64(bitPattern: a.accessSeconds)); put(UInt64(bitPattern: a.modificationSeconds)); put(UInt64(bitPattern: a.changeSeconds))
        put(a.accessNanoseconds); put(a.modificationNanoseconds); put(a.changeNanoseconds)
        put(a.mode); put(a.linkCount); put(a.uid); put(a.gid); put(a.rdev); put(a.blockSize)
        put(UInt32(0))  // flags (FUSE_ATTR_SUBMOUNT etc.): none
    }

    /// A duration as the (seconds, nanoseconds) pair of the *_valid fields.
    static func split(_ seconds: Double) -> (UInt64, UInt32) {
        guard seconds > 0, seconds.isFinite else { return (0, 0) }
        let whole = seconds.rounded(.down)
        return (UInt64(whole), UInt32(((seconds - whole) * 1e9).rounded(.down)))
    }

    /// struct fuse_entry_out (128 bytes).
    public mutating func entry(_ e: Entry, timeouts: CacheTimeouts) {
        let (entrySec, entryNsec) = Self.split(timeouts.entrySeconds)
        let (attrSec, attrNsec) = Self.split(timeouts.attributeSeconds)
        put(e.inode.rawValue); put(e.generation)
        put(entrySec); put(attrSec); put(entryNsec); put(attrNsec)
        attr(e.attributes)
    }

    /// struct fuse_attr_out (104 bytes).
    public mutating func attrOut(_ a: Attributes, timeouts: CacheTimeouts) {
        let (attrSec, attrNsec) = Self.split(timeouts.attributeSeconds)
        put(attrSec); put(attrNsec); put(UInt32(0))
        attr(a)
    }

    /// struct fuse_open_out (16 bytes).
    public mutating func openOut(_ o: OpenResult) {
        put(o.handle.rawValue); put(o.flags.rawValue); put(o.backingID?.rawValue ?? 0)
    }

    /// struct fuse_kstatfs (80 bytes), the body of fuse_statfs_out.
    public mutating func statfs(_ s: StatFS) {
        put(s.blocks); put(s.freeBlocks); put(s.availableBlocks); put(s.files); put(s.freeFiles)
        put(s.blockSize); put(s.nameMax); put(s.fragmentSize); put(UInt32(0))
        zeros(24)  // spare[6]
    }

    /// struct fuse_write_out (8 bytes); also the reply of COPY_FILE_RANGE.
    public mutating func writeOut(size: UInt32) {
        put(size); put(UInt32(0))
    }

    /// struct fuse_getxattr_out (8 bytes), the reply to a size query.
    public mutating func xattrSize(_ size: UInt32) {
        put(size); put(UInt32(0))
    }

    /// Size of one struct fuse_dirent with its name, padded to 8 bytes.
    public static func direntSize(nameLength: Int) -> Int { (24 + nameLength + 7) & ~7 }

    /// struct fuse_dirent plus the padded name. The caller checked the size against `remaining`.
    public mutating func dirent(_ d: DirectoryEntry) {
        let padded = Self.direntSize(nameLength: d.name.count)
        put(d.inode); put(d.nextOffset); put(UInt32(d.name.count)); put(d.type)
        bytes(d.name)
        zeros(padded - 24 - d.name.count)
    }
}
