// FUSE_INIT: what we ask the kernel for, given what it offers (fuse_init_in.flags/flags2) and
// how the mount was configured. The result is the 64-byte struct fuse_init_out.

/// FUSE_INIT flag bits (flags | flags2 << 32 in fuse_init_in/fuse_init_out).
public struct InitFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let asyncRead = InitFlags(rawValue: 1 << 0)
    public static let atomicOTrunc = InitFlags(rawValue: 1 << 3)
    public static let exportSupport = InitFlags(rawValue: 1 << 4)
    public static let bigWrites = InitFlags(rawValue: 1 << 5)
    /// FUSE_DONT_MASK: the kernel leaves the caller's umask out of a new object's mode and
    /// sends it alongside; the filesystem applies it unless a default ACL replaces it.
    public static let dontMask = InitFlags(rawValue: 1 << 6)
    public static let autoInvalData = InitFlags(rawValue: 1 << 12)
    public static let doReaddirplus = InitFlags(rawValue: 1 << 13)
    public static let readdirplusAuto = InitFlags(rawValue: 1 << 14)
    public static let asyncDIO = InitFlags(rawValue: 1 << 15)
    public static let writebackCache = InitFlags(rawValue: 1 << 16)
    public static let parallelDirops = InitFlags(rawValue: 1 << 18)
    /// FUSE_POSIX_ACL: the kernel checks POSIX ACLs in its permission checks (the mount has
    /// default_permissions) and caches them per inode, reading them with GETXATTR.
    public static let posixACL = InitFlags(rawValue: 1 << 20)
    public static let maxPages = InitFlags(rawValue: 1 << 22)
    public static let cacheSymlinks = InitFlags(rawValue: 1 << 23)
    /// FUSE_HANDLE_KILLPRIV_V2: we clear setuid/setgid bits and file capabilities on write,
    /// truncate and chown (flagged per request), so the kernel does not ask for
    /// security.capability with a GETXATTR before every write.
    public static let handleKillPrivV2 = InitFlags(rawValue: 1 << 28)
    /// FUSE_SETXATTR_EXT: SETXATTR's struct carries flags, among them the request to clear
    /// setgid after an ACL change (asked for with POSIX_ACL).
    public static let setxattrExt = InitFlags(rawValue: 1 << 29)
    public static let initExt = InitFlags(rawValue: 1 << 30)
    public static let passthrough = InitFlags(rawValue: 1 << 37)
    /// FUSE_OVER_IO_URING (7.42): requests may come through io_uring queues registered after
    /// INIT. The kernel offers it only when the fuse module's `enable_uring` parameter is on.
    public static let overIoUring = InitFlags(rawValue: 1 << 41)
}

/// How a session wants INIT answered.
public struct InitConfiguration: Sendable {
    /// Largest WRITE payload; also sets max_pages.
    public var maxWrite: UInt32 = 1 << 20
    public var maxBackground: UInt16 = 64
    public var congestionThreshold: UInt16 = 48
    public var writebackCache = false
    public var passthrough = true
    /// Answer OPEN with ENOSYS, so the kernel stops sending OPEN and RELEASE for files
    /// (fc->no_open) and READ/WRITE arrive with file handle 0. No round trip per open, and
    /// the kernel keeps each file's page cache across opens; but with no OPEN reply there is
    /// no passthrough, and O_TRUNC must come as a SETATTR, so ATOMIC_O_TRUNC is not asked for.
    public var noOpen = false
    /// Every READDIR of a listing is a READDIRPLUS, not only its first (READDIRPLUS_AUTO is not
    /// asked for). The kernel's auto mode turns plus on again only after a LOOKUP in the
    /// directory, but a walker such as tar reads the whole listing before it looks at any
    /// entry, so every entry past the first reply (about 190) costs it a LOOKUP round trip
    /// later: 16,968 LOOKUPs in the first tar of the Dicfuse benchmark tree. Worth it where a
    /// lookup is cheap for the daemon; a `find` that never stats then makes nodes for every
    /// entry it lists.
    public var readdirplusEveryCall = false
    /// Ask for FUSE_OVER_IO_URING; the transport registers its queues once INIT is answered.
    public var ioUring = false
    /// Ask for FUSE_POSIX_ACL and FUSE_DONT_MASK (needs xattr support in the filesystem).
    /// Without it the kernel ignores ACLs in its permission checks and asks for
    /// system.posix_acl_access with a GETXATTR on every `ls -l` of a file.
    public var posixACL = false
    public var timeouts = CacheTimeouts()

    public init() {}
}

/// The outcome of INIT: what was agreed, for the dispatcher to remember.
public struct Negotiated: Sendable, Equatable {
    public var minor: UInt32
    public var flags: InitFlags
    public var maxWrite: UInt32
    public var maxReadahead: UInt32
    public var passthrough: Bool { flags.contains(.passthrough) }
    public var ioUring: Bool { flags.contains(.overIoUring) }

    public init(minor: UInt32, flags: InitFlags, maxWrite: UInt32, maxReadahead: UInt32) {
        self.minor = minor; self.flags = flags; self.maxWrite = maxWrite; self.maxReadahead = maxReadahead
    }
}

extension InitConfiguration {
    /// The oldest kernel protocol we serve: 7.31 (Linux 5.8) has everything we rely on but
    /// passthrough, which is negotiated separately.
    public static let minimumMinor: UInt32 = 31
    /// The protocol we implement (7.40 added passthrough, the newest layout we use).
    public static let implementedMinor: UInt32 = 40

    /// Chooses our flags from the kernel's offer. Passthrough and writeback caching exclude each
    /// other: the kernel refuses passthrough when FUSE_WRITEBACK_CACHE is set (fs/fuse/inode.c,
    /// process_init_reply), so asking for writeback cache turns passthrough off.
    public func negotiate(kernelMinor: UInt32, offered: InitFlags, maxReadahead: UInt32) -> Negotiated {
        var wanted: InitFlags = [.asyncRead, .atomicOTrunc, .exportSupport, .bigWrites, .autoInvalData,
                                 .doReaddirplus, .readdirplusAuto, .asyncDIO, .parallelDirops, .maxPages,
                                 .cacheSymlinks, .handleKillPrivV2, .initExt]
        if noOpen { wanted.remove(.atomicOTrunc) }
        if readdirplusEveryCall { wanted.remove(.readdirplusAuto) }
        if writebackCache { wanted.insert(.writebackCache) }
        else if passthrough && !noOpen { wanted.insert(.passthrough) }
        if ioUring { wanted.insert(.overIoUring) }
        if posixACL { wanted.formUnion([.posixACL, .dontMask, .setxattrExt]) }
        var flags = wanted.intersection(offered)
        if !flags.contains(.initExt) { flags.subtract([.passthrough, .overIoUring]) }
        // The umask is ours to apply only where a default ACL can replace it.
        if !flags.contains(.posixACL) { flags.subtract([.dontMask, .setxattrExt]) }
        return Negotiated(minor: min(kernelMinor, Self.implementedMinor), flags: flags, maxWrite: maxWrite,
                          maxReadahead: maxReadahead)
    }
}

extension ReplyWriter {
    /// struct fuse_init_out (64 bytes).
    public mutating func initOut(_ n: Negotiated, configuration c: InitConfiguration) {
        put(UInt32(7)); put(n.minor)
        put(n.maxReadahead)                                   // max_readahead: the kernel's
        put(UInt32(truncatingIfNeeded: n.flags.rawValue))     // flags
        put(c.maxBackground); put(c.congestionThreshold)
        put(n.maxWrite)
        put(UInt32(1))                                        // time_gran: nanoseconds
        put(UInt16((n.maxWrite + 4095) / 4096))               // max_pages
        put(UInt16(0))                                        // map_alignment
        put(UInt32(truncatingIfNeeded: n.flags.rawValue >> 32)) // flags2
        put(UInt32(n.passthrough ? 1 : 0))                    // max_stack_depth
        zeros(24)                                             // unused[6]
    }
}
