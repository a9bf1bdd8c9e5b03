// struct fuse_in_header (40 bytes) and the caller identity it carries.

/// Wire layout of struct fuse_in_header (include/uapi/linux/fuse.h, protocol 7.45).
public struct InHeader: Sendable, Equatable {
    /// sizeof(struct fuse_in_header)
    public static let size = 40
    public var length: UInt32
    public var opcode: UInt32
    public var unique: RequestID
    public var nodeID: InodeNumber
    public var uid: UInt32
    public var gid: UInt32
    public var pid: UInt32
    /// Length of extensions after the arguments, in 8-byte units (7.39+); we negotiate none.
    public var totalExtensionLength: UInt16

    /// Decodes the header; the reader is left at the first argument byte.
    public static func decode(_ reader: inout ByteReader) throws(FUSEWireError) -> InHeader {
        let length: UInt32 = try reader.read()
        let opcode: UInt32 = try reader.read()
        let unique: UInt64 = try reader.read()
        let nodeID: UInt64 = try reader.read()
        let uid: UInt32 = try reader.read()
        let gid: UInt32 = try reader.read()
        let pid: UInt32 = try reader.read()
        let extLength: UInt16 = try reader.read()
        try reader.skip(2)
        return InHeader(length: length, opcode: opcode, unique: RequestID(rawValue: unique), nodeID: InodeNumber(nodeID),
                        uid: uid, gid: gid, pid: pid, totalExtensionLength: extLength)
    }
}

/// Who made a request: the caller's ids from the header, passed to every filesystem call.
public struct RequestContext: Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: UInt32
    /// Set when FUSE passthrough was negotiated and is enabled: the filesystem may register
    /// backing files with it and reply FOPEN_PASSTHROUGH.
    public var passthrough: (any BackingFileRegistrar)?
    /// Tells the kernel about changes it did not make itself; nil where the transport cannot
    /// (virtiofs has no notification queue in Linux guests).
    public var notifier: (any KernelNotifier)?
    /// For MKNOD, MKDIR, CREATE and TMPFILE under FUSE_DONT_MASK: the caller's umask, which the
    /// filesystem applies unless the new object's directory has a default ACL (which then
    /// takes its place, as on a local filesystem). 0 otherwise: the kernel applied it.
    public var umask: UInt32 = 0

    public init(uid: UInt32, gid: UInt32, pid: UInt32, passthrough: (any BackingFileRegistrar)? = nil,
                notifier: (any KernelNotifier)? = nil) {
        self.uid = uid; self.gid = gid; self.pid = pid; self.passthrough = passthrough; self.notifier = notifier
    }
}
