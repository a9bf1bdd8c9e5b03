// Typed wrappers for the integers the protocol passes around, so an inode cannot be passed where
// a file handle is expected (swift-system FileDescriptor / EdenFS InodeNumber style).

/// A FUSE node id (`nodeid` in struct fuse_in_header). 1 is the root.
public struct InodeNumber: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    /// FUSE_ROOT_ID
    public static let root = InodeNumber(1)
    public var description: String { String(rawValue) }
}

/// A file or directory handle (`fh`) chosen by the filesystem in OPEN/OPENDIR/CREATE.
public struct FileHandleID: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
}

/// The `unique` id of a request, echoed in its reply.
public struct RequestID: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A backing file id returned by FUSE_DEV_IOC_BACKING_OPEN, used with FOPEN_PASSTHROUGH.
public struct BackingID: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
}
