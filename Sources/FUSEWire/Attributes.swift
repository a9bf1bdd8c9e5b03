// The attribute and statfs values the filesystem hands to the encoder (struct fuse_attr and
// struct fuse_kstatfs), kept free of any syscall module so FUSEWire depends on nothing but
// swift-system.

/// The fields of struct fuse_attr.
public struct Attributes: Sendable, Equatable {
    /// st_ino as the caller should see it (not necessarily the node id).
    public var inode: UInt64
    public var size: UInt64
    public var blocks: UInt64
    public var accessSeconds: Int64
    public var modificationSeconds: Int64
    public var changeSeconds: Int64
    public var accessNanoseconds: UInt32
    public var modificationNanoseconds: UInt32
    public var changeNanoseconds: UInt32
    /// st_mode, type bits included.
    public var mode: UInt32
    public var linkCount: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var rdev: UInt32
    public var blockSize: UInt32

    public init(inode: UInt64, size: UInt64 = 0, blocks: UInt64 = 0, accessSeconds: Int64 = 0, modificationSeconds: Int64 = 0,
                changeSeconds: Int64 = 0, accessNanoseconds: UInt32 = 0, modificationNanoseconds: UInt32 = 0,
                changeNanoseconds: UInt32 = 0, mode: UInt32, linkCount: UInt32 = 1, uid: UInt32 = 0, gid: UInt32 = 0,
                rdev: UInt32 = 0, blockSize: UInt32 = 4096) {
        self.inode = inode; self.size = size; self.blocks = blocks; self.accessSeconds = accessSeconds
        self.modificationSeconds = modificationSeconds; self.changeSeconds = changeSeconds
        self.accessNanoseconds = accessNanoseconds; self.modificationNanoseconds = modificationNanoseconds
        self.changeNanoseconds = changeNanoseconds; self.mode = mode; self.linkCount = linkCount; self.uid = uid
        self.gid = gid; self.rdev = rdev; self.blockSize = blockSize
    }

    /// DT_* type derived from the mode.
    public var direntType: UInt32 { (mode >> 12) & 0xF }
}

/// The fields of struct fuse_kstatfs.
public struct StatFS: Sendable, Equatable {
    public var blocks, freeBlocks, availableBlocks, files, freeFiles: UInt64
    public var blockSize, nameMax, fragmentSize: UInt32

    public init(blocks: UInt64, freeBlocks: UInt64, availableBlocks: UInt64, files: UInt64, freeFiles: UInt64,
                blockSize: UInt32, nameMax: UInt32, fragmentSize: UInt32) {
        self.blocks = blocks; self.freeBlocks = freeBlocks; self.availableBlocks = availableBlocks; self.files = files
        self.freeFiles = freeFiles; self.blockSize = blockSize; self.nameMax = nameMax; self.fragmentSize = fragmentSize
    }
}
