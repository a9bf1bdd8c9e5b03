// A Swift value for struct stat: the fields the overlay and the FUSE attribute replies need.
import Glibc

/// The fields of struct stat (stat(2)) that the overlay uses.
public struct FileStat: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var mode: UInt32
    public var linkCount: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var rdev: UInt64
    public var size: UInt64
    public var blocks: UInt64
    public var blockSize: UInt32
    public var accessTime: TimeSpec
    public var modificationTime: TimeSpec
    public var changeTime: TimeSpec

    /// The file-type bits of `mode` (S_IFMT).
    public var fileType: FileType { FileType(mode: mode) }
    /// The permission bits of `mode`, including setuid, setgid and sticky.
    public var permissions: UInt32 { mode & 0o7777 }

    init(_ s: stat) {
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        mode = UInt32(s.st_mode)
        linkCount = UInt32(truncatingIfNeeded: s.st_nlink)
        uid = s.st_uid
        gid = s.st_gid
        rdev = UInt64(s.st_rdev)
        size = UInt64(max(0, s.st_size))
        blocks = UInt64(max(0, s.st_blocks))
        blockSize = UInt32(truncatingIfNeeded: s.st_blksize)
        accessTime = TimeSpec(s.st_atim)
        modificationTime = TimeSpec(s.st_mtim)
        changeTime = TimeSpec(s.st_ctim)
    }

    public init(device: UInt64 = 0, inode: UInt64, mode: UInt32, linkCount: UInt32 = 1, uid: UInt32 = 0, gid: UInt32 = 0,
                rdev: UInt64 = 0, size: UInt64 = 0, blocks: UInt64 = 0, blockSize: UInt32 = 4096,
                accessTime: TimeSpec = .zero, modificationTime: TimeSpec = .zero, changeTime: TimeSpec = .zero) {
        self.device = device; self.inode = inode; self.mode = mode; self.linkCount = linkCount
        self.uid = uid; self.gid = gid; self.rdev = rdev; self.size = size; self.blocks = blocks
        self.blockSize = blockSize; self.accessTime = accessTime; self.modificationTime = modificationTime
        self.changeTime = changeTime
    }
}

/// Seconds and nanoseconds, as in struct timespec.
public struct TimeSpec: Sendable, Equatable {
    public var seconds: Int64
    public var nanoseconds: UInt32
    public static let zero = TimeSpec(seconds: 0, nanoseconds: 0)
    public init(seconds: Int64, nanoseconds: UInt32) { self.seconds = seconds; self.nanoseconds = nanoseconds }
    init(_ t: timespec) { seconds = Int64(t.tv_sec); nanoseconds = UInt32(truncatingIfNeeded: t.tv_nsec) }
    var timespecValue: timespec { timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds)) }
}

/// The file type encoded in the S_IFMT bits of a mode.
public enum FileType: UInt32, Sendable {
    case fifo = 0o010000, characterDevice = 0o020000, directory = 0o040000, blockDevice = 0o060000
    case regular = 0o100000, symlink = 0o120000, socket = 0o140000, unknown = 0

    public init(mode: UInt32) { self = FileType(rawValue: mode & 0o170000) ?? .unknown }

    /// The DT_* value used in directory entries (readdir(3)).
    public var direntType: UInt32 {
        switch self {
        case .fifo: 1
        case .characterDevice: 2
        case .directory: 4
        case .blockDevice: 6
        case .regular: 8
        case .symlink: 10
        case .socket: 12
        case .unknown: 0
        }
    }
}
