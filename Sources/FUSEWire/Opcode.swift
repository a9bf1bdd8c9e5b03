// FUSE opcodes (enum fuse_opcode in include/uapi/linux/fuse.h, protocol 7.45).

/// A FUSE request opcode; the raw value is the kernel's number.
public enum FUSEOpcode: UInt32, Sendable, CaseIterable {
    /// FUSE_LOOKUP
    case lookup = 1
    /// FUSE_FORGET (no reply)
    case forget = 2
    /// FUSE_GETATTR
    case getattr = 3
    /// FUSE_SETATTR
    case setattr = 4
    /// FUSE_READLINK
    case readlink = 5
    /// FUSE_SYMLINK
    case symlink = 6
    /// FUSE_MKNOD
    case mknod = 8
    /// FUSE_MKDIR
    case mkdir = 9
    /// FUSE_UNLINK
    case unlink = 10
    /// FUSE_RMDIR
    case rmdir = 11
    /// FUSE_RENAME
    case rename = 12
    /// FUSE_LINK
    case link = 13
    /// FUSE_OPEN
    case open = 14
    /// FUSE_READ
    case read = 15
    /// FUSE_WRITE
    case write = 16
    /// FUSE_STATFS
    case statfs = 17
    /// FUSE_RELEASE
    case release = 18
    /// FUSE_FSYNC
    case fsync = 20
    /// FUSE_SETXATTR
    case setxattr = 21
    /// FUSE_GETXATTR
    case getxattr = 22
    /// FUSE_LISTXATTR
    case listxattr = 23
    /// FUSE_REMOVEXATTR
    case removexattr = 24
    /// FUSE_FLUSH
    case flush = 25
    /// FUSE_INIT
    case initialize = 26
    /// FUSE_OPENDIR
    case opendir = 27
    /// FUSE_READDIR
    case readdir = 28
    /// FUSE_RELEASEDIR
    case releasedir = 29
    /// FUSE_FSYNCDIR
    case fsyncdir = 30
    /// FUSE_GETLK
    case getlk = 31
    /// FUSE_SETLK
    case setlk = 32
    /// FUSE_SETLKW
    case setlkw = 33
    /// FUSE_ACCESS
    case access = 34
    /// FUSE_CREATE
    case create = 35
    /// FUSE_INTERRUPT (no reply of its own)
    case interrupt = 36
    /// FUSE_BMAP
    case bmap = 37
    /// FUSE_DESTROY
    case destroy = 38
    /// FUSE_IOCTL
    case ioctl = 39
    /// FUSE_POLL
    case poll = 40
    /// FUSE_NOTIFY_REPLY
    case notifyReply = 41
    /// FUSE_BATCH_FORGET (no reply)
    case batchForget = 42
    /// FUSE_FALLOCATE
    case fallocate = 43
    /// FUSE_READDIRPLUS
    case readdirplus = 44
    /// FUSE_RENAME2
    case rename2 = 45
    /// FUSE_LSEEK
    case lseek = 46
    /// FUSE_COPY_FILE_RANGE
    case copyFileRange = 47
    /// FUSE_SETUPMAPPING (DAX, virtiofs only)
    case setupMapping = 48
    /// FUSE_REMOVEMAPPING (DAX, virtiofs only)
    case removeMapping = 49
    /// FUSE_SYNCFS
    case syncfs = 50
    /// FUSE_TMPFILE
    case tmpfile = 51
    /// FUSE_STATX
    case statx = 52
    /// FUSE_COPY_FILE_RANGE_64
    case copyFileRange64 = 53

    /// The kernel's name for the opcode, for logs ("READ", "LOOKUP").
    public var kernelName: String {
        switch self {
        case .initialize: "INIT"
        case .batchForget: "BATCH_FORGET"
        case .copyFileRange: "COPY_FILE_RANGE"
        case .copyFileRange64: "COPY_FILE_RANGE_64"
        case .notifyReply: "NOTIFY_REPLY"
        case .setupMapping: "SETUPMAPPING"
        case .removeMapping: "REMOVEMAPPING"
        default: "\(self)".uppercased()
        }
    }
}
