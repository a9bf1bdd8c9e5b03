// Decoding of a whole request: header plus the opcode's argument struct, into a value the
// dispatcher switches over. Names are copied out (they outlive nothing but the call); WRITE data
// stays a view into the transport's buffer, so writes are not copied.

/// A decoded FUSE request. `data` views borrow the transport's buffer and are valid only while
/// the request is being handled.
public struct FUSERequest {
    public var header: InHeader
    public var body: RequestBody

    /// Decodes one message. `message` must be exactly one request as read from the transport.
    /// `externalBytes` is the length of a WRITE's data when the transport keeps it outside the
    /// message (ScatteredData.writeSource); the message then ends after fuse_write_in.
    /// `extendedSetxattr`: FUSE_SETXATTR_EXT was agreed at INIT (SETXATTR's longer struct).
    public static func decode(_ message: UnsafeRawBufferPointer, externalBytes: Int = 0,
                              extendedSetxattr: Bool = false) throws(FUSEWireError) -> FUSERequest {
        var reader = ByteReader(message)
        reader.extendedSetxattr = extendedSetxattr
        let header = try InHeader.decode(&reader)
        guard Int(header.length) == message.count + externalBytes else {
            throw .headerLengthMismatch(declared: header.length, received: message.count + externalBytes)
        }
        if externalBytes > 0 {
            guard header.opcode == FUSEOpcode.write.rawValue else { throw .headerLengthMismatch(declared: header.length, received: message.count) }
            reader.externalBytes = externalBytes
        }
        let body = try RequestBody.decode(opcode: header.opcode, &reader)
        return FUSERequest(header: header, body: body)
    }
}

/// Arguments of FUSE_SETATTR (struct fuse_setattr_in); nil fields are not to be changed.
public struct AttributeChanges: Sendable, Equatable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: UInt64?
    public var accessTime: TimeChange?
    public var modificationTime: TimeChange?
    public var handle: FileHandleID?
    /// FATTR_KILL_SUIDGID: clear setuid/setgid as a side effect.
    public var killSetIDBits: Bool

    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: UInt64? = nil,
                accessTime: TimeChange? = nil, modificationTime: TimeChange? = nil, handle: FileHandleID? = nil,
                killSetIDBits: Bool = false) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.size = size; self.accessTime = accessTime
        self.modificationTime = modificationTime; self.handle = handle; self.killSetIDBits = killSetIDBits
    }

    /// Nothing to change: the kernel sends such a SETATTR with the writeback cache, to store a
    /// ctime it kept itself (FATTR_CTIME, which we do not decode: no filesystem call sets it).
    public var changesNothing: Bool { changesOnlyTimes && accessTime == nil && modificationTime == nil }

    /// Only atime and mtime, if anything (the writeback cache also stores the times it kept).
    public var changesOnlyTimes: Bool { mode == nil && uid == nil && gid == nil && size == nil && !killSetIDBits }
}

/// A time in SETATTR: an explicit value or "now" (FATTR_ATIME_NOW / FATTR_MTIME_NOW).
public enum TimeChange: Sendable, Equatable {
    case now
    case time(seconds: Int64, nanoseconds: UInt32)
}

/// The arguments of each opcode.
public enum RequestBody {
    case initialize(major: UInt32, minor: UInt32, maxReadahead: UInt32, flags: UInt64)
    case destroy
    case lookup(name: [UInt8])
    case forget(count: UInt64)
    case batchForget([(InodeNumber, UInt64)])
    case getattr(handle: FileHandleID?)
    case setattr(AttributeChanges)
    case readlink
    case symlink(name: [UInt8], target: [UInt8])
    case mknod(name: [UInt8], mode: UInt32, rdev: UInt32, umask: UInt32)
    case mkdir(name: [UInt8], mode: UInt32, umask: UInt32)
    case unlink(name: [UInt8])
    case rmdir(name: [UInt8])
    case rename(name: [UInt8], newParent: InodeNumber, newName: [UInt8], flags: UInt32)
    case link(oldNode: InodeNumber, newName: [UInt8])
    /// `killSetIDBits`: FUSE_OPEN_KILL_SUIDGID on an O_TRUNC open by a caller without CAP_FSETID.
    case open(flags: UInt32, killSetIDBits: Bool)
    case create(name: [UInt8], flags: UInt32, mode: UInt32, umask: UInt32)
    /// FUSE_TMPFILE (open(2) with O_TMPFILE): a fuse_create_in like CREATE's; the name the
    /// kernel sends ("/") means nothing.
    case tmpfile(flags: UInt32, mode: UInt32, umask: UInt32)
    case read(handle: FileHandleID, offset: UInt64, size: UInt32)
    case write(handle: FileHandleID, offset: UInt64, data: UnsafeRawBufferPointer, writeFlags: UInt32, flags: UInt32)
    case statfs
    case release(handle: FileHandleID, flags: UInt32)
    case fsync(handle: FileHandleID, dataOnly: Bool)
    /// `killSetGID`: FUSE_SETXATTR_ACL_KILL_SGID, an ACL set by a caller outside the file's
    /// group without CAP_FSETID (only with FUSE_SETXATTR_EXT).
    case setxattr(name: [UInt8], value: UnsafeRawBufferPointer, flags: UInt32, killSetGID: Bool)
    case getxattr(name: [UInt8], size: UInt32)
    case listxattr(size: UInt32)
    case removexattr(name: [UInt8])
    case flush(handle: FileHandleID)
    case opendir(flags: UInt32)
    case readdir(handle: FileHandleID, offset: UInt64, size: UInt32, plus: Bool)
    case releasedir(handle: FileHandleID)
    case fsyncdir(handle: FileHandleID, dataOnly: Bool)
    case access(mask: UInt32)
    case interrupt(target: RequestID)
    case fallocate(handle: FileHandleID, offset: UInt64, length: UInt64, mode: UInt32)
    case lseek(handle: FileHandleID, offset: UInt64, whence: UInt32)
    case copyFileRange(CopyFileRange)
    /// An opcode we know but do not implement, or one we do not know: ENOSYS.
    case unsupported(opcode: UInt32)

    /// FUSE_COPY_FILE_RANGE arguments (struct fuse_copy_file_range_in).
    public struct CopyFileRange: Sendable, Equatable {
        public var inputHandle: FileHandleID
        public var inputOffset: UInt64
        public var outputNode: InodeNumber
        public var outputHandle: FileHandleID
        public var outputOffset: UInt64
        public var length: UInt64
        public var flags: UInt64
    }

    /// Decodes the arguments that follow the header for `opcode`.
    static func decode(opcode raw: UInt32, _ r: inout ByteReader) throws(FUSEWireError) -> RequestBody {
        guard let opcode = FUSEOpcode(rawValue: raw) else { return .unsupported(opcode: raw) }
        switch opcode {
        case .initialize:
            let major: UInt32 = try r.read(), minor: UInt32 = try r.read()
            let readahead: UInt32 = try r.read(), flags: UInt32 = try r.read()
            // flags2 exists from 7.36 on; older kernels send a 16-byte fuse_init_in.
            let flags2: UInt32 = r.remaining >= 4 ? try r.read() : 0
            return .initialize(major: major, minor: minor, maxReadahead: readahead,
                               flags: UInt64(flags) | UInt64(flags2) << 32)
        case .destroy: return .destroy
        case .lookup: return .lookup(name: try r.readName())
        case .forget: return .forget(count: try r.read())
        case .batchForget:
            let count: UInt32 = try r.read()
            try r.skip(4)
            // Bound the count by what is actually present before allocating anything.
            guard Int(count) <= r.remaining / 16 else { throw .truncated(need: Int(count) * 16, have: r.remaining) }
            var items: [(InodeNumber, UInt64)] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<count {
                let node: UInt64 = try r.read()
                let n: UInt64 = try r.read()
                items.append((InodeNumber(node), n))
            }
            return .batchForget(items)
        case .getattr:
            let flags: UInt32 = try r.read()
            try r.skip(4)
            let fh: UInt64 = try r.read()
            return .getattr(handle: flags & 1 != 0 ? FileHandleID(fh) : nil)  // FUSE_GETATTR_FH
        case .setattr: return .setattr(try decodeSetattr(&r))
        case .readlink: return .readlink
        case .symlink:
            let name = try r.readName()
            let target = try r.readCString()
            return .symlink(name: name, target: target)
        case .mknod:
            let mode: UInt32 = try r.read(), rdev: UInt32 = try r.read(), umask: UInt32 = try r.read()
            try r.skip(4)
            return .mknod(name: try r.readName(), mode: mode, rdev: rdev, umask: umask)
        case .mkdir:
            let mode: UInt32 = try r.read(), umask: UInt32 = try r.read()
            return .mkdir(name: try r.readName(), mode: mode, umask: umask)
        case .unlink: return .unlink(name: try r.readName())
        case .rmdir: return .rmdir(name: try r.readName())
        case .rename:
            let newDir: UInt64 = try r.read()
            let old = try r.readName(), new = try r.readName()
            return .rename(name: old, newParent: InodeNumber(newDir), newName: new, flags: 0)
        case .rename2:
            let newDir: UInt64 = try r.read(), flags: UInt32 = try r.read()
            try r.skip(4)
            let old = try r.readName(), new = try r.readName()
            return .rename(name: old, newParent: InodeNumber(newDir), newName: new, flags: flags)
        case .link:
            let old: UInt64 = try r.read()
            return .link(oldNode: InodeNumber(old), newName: try r.readName())
        case .open:
            let flags: UInt32 = try r.read(), openFlags: UInt32 = try r.read()
            return .open(flags: flags, killSetIDBits: openFlags & 1 != 0)  // FUSE_OPEN_KILL_SUIDGID
        case .create, .tmpfile:
            let flags: UInt32 = try r.read(), mode: UInt32 = try r.read(), umask: UInt32 = try r.read()
            try r.skip(4)  // open_flags
            if opcode == .tmpfile {
                _ = try r.readCString()  // "/", not a name
                return .tmpfile(flags: flags, mode: mode, umask: umask)
            }
            return .create(name: try r.readName(), flags: flags, mode: mode, umask: umask)
        case .read:
            let fh: UInt64 = try r.read(), offset: UInt64 = try r.read(), size: UInt32 = try r.read()
            try r.skip(4 + 8 + 4 + 4)  // read_flags, lock_owner, flags, padding
            return .read(handle: FileHandleID(fh), offset: offset, size: size)
        case .write:
            let fh: UInt64 = try r.read(), offset: UInt64 = try r.read(), size: UInt32 = try r.read()
            let writeFlags: UInt32 = try r.read()
            try r.skip(8)  // lock_owner
            let flags: UInt32 = try r.read()
            try r.skip(4)
            // Data kept outside the message must be exactly the declared size.
            if r.externalBytes > 0 && Int(size) != r.externalBytes { throw .headerLengthMismatch(declared: size, received: r.externalBytes) }
            let data = r.externalBytes > 0 ? UnsafeRawBufferPointer(start: nil, count: 0) : try r.readBytes(Int(size))
            return .write(handle: FileHandleID(fh), offset: offset, data: data, writeFlags: writeFlags, flags: flags)
        case .statfs: return .statfs
        case .release, .releasedir:
            let fh: UInt64 = try r.read(), flags: UInt32 = try r.read()
            try r.skip(4 + 8)  // release_flags, lock_owner
            return opcode == .release ? .release(handle: FileHandleID(fh), flags: flags) : .releasedir(handle: FileHandleID(fh))
        case .fsync, .fsyncdir:
            let fh: UInt64 = try r.read(), flags: UInt32 = try r.read()
            try r.skip(4)
            let dataOnly = flags & 1 != 0  // FUSE_FSYNC_FDATASYNC
            return opcode == .fsync ? .fsync(handle: FileHandleID(fh), dataOnly: dataOnly)
                : .fsyncdir(handle: FileHandleID(fh), dataOnly: dataOnly)
        case .setxattr:
            // struct fuse_setxattr_in: 8 bytes, or 16 with FUSE_SETXATTR_EXT (setxattr_flags, padding).
            let size: UInt32 = try r.read(), flags: UInt32 = try r.read()
            var setxattrFlags: UInt32 = 0
            if r.extendedSetxattr {
                setxattrFlags = try r.read()
                try r.skip(4)
            }
            let name = try r.readCString()
            guard !name.isEmpty else { throw .invalidName }
            return .setxattr(name: name, value: try r.readBytes(Int(size)), flags: flags, killSetGID: setxattrFlags & 1 != 0)
        case .getxattr:
            let size: UInt32 = try r.read()
            try r.skip(4)
            let name = try r.readCString()
            guard !name.isEmpty else { throw .invalidName }
            return .getxattr(name: name, size: size)
        case .listxattr:
            let size: UInt32 = try r.read()
            try r.skip(4)
            return .listxattr(size: size)
        case .removexattr:
            let name = try r.readCString()
            guard !name.isEmpty else { throw .invalidName }
            return .removexattr(name: name)
        case .flush:
            let fh: UInt64 = try r.read()
            try r.skip(4 + 4 + 8)
            return .flush(handle: FileHandleID(fh))
        case .opendir:
            let flags: UInt32 = try r.read()
            try r.skip(4)
            return .opendir(flags: flags)
        case .readdir, .readdirplus:
            let fh: UInt64 = try r.read(), offset: UInt64 = try r.read(), size: UInt32 = try r.read()
            try r.skip(4 + 8 + 4 + 4)
            return .readdir(handle: FileHandleID(fh), offset: offset, size: size, plus: opcode == .readdirplus)
        case .access:
            let mask: UInt32 = try r.read()
            try r.skip(4)
            return .access(mask: mask)
        case .interrupt:
            return .interrupt(target: RequestID(rawValue: try r.read()))
        case .fallocate:
            let fh: UInt64 = try r.read(), offset: UInt64 = try r.read(), length: UInt64 = try r.read()
            let mode: UInt32 = try r.read()
            try r.skip(4)
            return .fallocate(handle: FileHandleID(fh), offset: offset, length: length, mode: mode)
        case .lseek:
            let fh: UInt64 = try r.read(), offset: UInt64 = try r.read(), whence: UInt32 = try r.read()
            try r.skip(4)
            return .lseek(handle: FileHandleID(fh), offset: offset, whence: whence)
        case .copyFileRange:
            let c = CopyFileRange(inputHandle: FileHandleID(try r.read()), inputOffset: try r.read(),
                                  outputNode: InodeNumber(try r.read()), outputHandle: FileHandleID(try r.read()),
                                  outputOffset: try r.read(), length: try r.read(), flags: try r.read())
            return .copyFileRange(c)
        case .getlk, .setlk, .setlkw, .bmap, .ioctl, .poll, .notifyReply, .setupMapping, .removeMapping,
             .syncfs, .statx, .copyFileRange64:
            return .unsupported(opcode: raw)
        }
    }

    /// struct fuse_setattr_in (88 bytes) with its FATTR_* validity bits.
    private static func decodeSetattr(_ r: inout ByteReader) throws(FUSEWireError) -> AttributeChanges {
        let valid: UInt32 = try r.read()
        try r.skip(4)
        let fh: UInt64 = try r.read(), size: UInt64 = try r.read()
        try r.skip(8)  // lock_owner
        let atime: UInt64 = try r.read(), mtime: UInt64 = try r.read()
        try r.skip(8)  // ctime
        let atimeNsec: UInt32 = try r.read(), mtimeNsec: UInt32 = try r.read()
        try r.skip(4)  // ctimensec
        let mode: UInt32 = try r.read()
        try r.skip(4)
        let uid: UInt32 = try r.read(), gid: UInt32 = try r.read()
        try r.skip(4)
        var c = AttributeChanges()
        if valid & (1 << 0) != 0 { c.mode = mode }
        if valid & (1 << 1) != 0 { c.uid = uid }
        if valid & (1 << 2) != 0 { c.gid = gid }
        if valid & (1 << 3) != 0 { c.size = size }
        if valid & (1 << 7) != 0 { c.accessTime = .now }
        else if valid & (1 << 4) != 0 { c.accessTime = .time(seconds: Int64(bitPattern: atime), nanoseconds: atimeNsec) }
        if valid & (1 << 8) != 0 { c.modificationTime = .now }
        else if valid & (1 << 5) != 0 { c.modificationTime = .time(seconds: Int64(bitPattern: mtime), nanoseconds: mtimeNsec) }
        if valid & (1 << 6) != 0 { c.handle = FileHandleID(fh) }
        c.killSetIDBits = valid & (1 << 11) != 0
        return c
    }
}
