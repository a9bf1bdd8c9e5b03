// Golden FUSE requests, part 2: file I/O, handles, xattrs, directories, INIT, INTERRUPT,
// FALLOCATE, LSEEK, COPY_FILE_RANGE, DESTROY and the unsupported ones. Hand-written from
// include/uapi/linux/fuse.h, little-endian.

extension Golden {
    // MARK: READ / WRITE

    /// FUSE_READ of 128 KiB at 4 GiB + 4 KiB. 80 bytes.
    static let read = message(
        header: fuseInHeader(len: 80, opcode: 15, unique: 0x22, nodeid: 0x3a),
        body: [
            // struct fuse_read_in (40 bytes)
            0x05, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, // fh = 0x7_0000_0005
            0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // offset = 0x1_0000_1000
            0x00, 0x00, 0x02, 0x00,                         // size = 0x20000
            0x02, 0x00, 0x00, 0x00,                         // read_flags = FUSE_READ_LOCKOWNER
            0xbb, 0xaa, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0xaabb
            0x00, 0x80, 0x00, 0x00,                         // flags = O_LARGEFILE (0x8000)
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    /// Offset of the WRITE payload in `write`: header (40) + fuse_write_in (40).
    static let writePayloadOffset = 80

    /// FUSE_WRITE of 6 bytes at 4 KiB. 86 bytes.
    static let write = message(
        header: fuseInHeader(len: 86, opcode: 16, unique: 0x23, nodeid: 0x3b),
        body: [
            // struct fuse_write_in (40 bytes)
            0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 9
            0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 0x1000
            0x06, 0x00, 0x00, 0x00,                         // size = 6
            0x06, 0x00, 0x00, 0x00,                         // write_flags = LOCKOWNER|KILL_SUIDGID (6)
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0x1234
            0x02, 0x80, 0x00, 0x00,                         // flags = O_RDWR|O_LARGEFILE (0x8002)
            0x00, 0x00, 0x00, 0x00,                         // padding
            // data (size bytes)
            0xde, 0xad, 0xbe, 0xef, 0x00, 0x01,
        ])

    // MARK: STATFS / RELEASE / RELEASEDIR / FSYNC / FSYNCDIR / FLUSH

    /// FUSE_STATFS: no argument struct. 40 bytes.
    static let statfs = fuseInHeader(len: 40, opcode: 17, unique: 0x24, nodeid: 1)

    /// FUSE_RELEASE with FUSE_RELEASE_FLUSH. 64 bytes.
    static let release = message(
        header: fuseInHeader(len: 64, opcode: 18, unique: 0x25, nodeid: 0x3c),
        body: [
            // struct fuse_release_in (24 bytes)
            0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x42
            0x01, 0x80, 0x00, 0x00,                         // flags = O_WRONLY|O_LARGEFILE (0x8001)
            0x01, 0x00, 0x00, 0x00,                         // release_flags = FUSE_RELEASE_FLUSH
            0x78, 0x56, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0x5678
        ])

    /// FUSE_RELEASEDIR (same struct fuse_release_in). 64 bytes.
    static let releasedir = message(
        header: fuseInHeader(len: 64, opcode: 29, unique: 0x26, nodeid: 0x3d),
        body: [
            // struct fuse_release_in (24 bytes)
            0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x43
            0x00, 0x80, 0x01, 0x00,                         // flags = O_DIRECTORY|O_LARGEFILE (0x18000)
            0x00, 0x00, 0x00, 0x00,                         // release_flags = 0
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0
        ])

    /// FUSE_FSYNC with FUSE_FSYNC_FDATASYNC (fdatasync). 56 bytes.
    static let fsync = message(
        header: fuseInHeader(len: 56, opcode: 20, unique: 0x27, nodeid: 0x3e),
        body: [
            // struct fuse_fsync_in (16 bytes)
            0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x44
            0x01, 0x00, 0x00, 0x00,                         // fsync_flags = FUSE_FSYNC_FDATASYNC
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    /// FUSE_FSYNCDIR without the datasync bit (fsync). 56 bytes.
    static let fsyncdir = message(
        header: fuseInHeader(len: 56, opcode: 30, unique: 0x28, nodeid: 0x3f),
        body: [
            // struct fuse_fsync_in (16 bytes)
            0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x45
            0x00, 0x00, 0x00, 0x00,                         // fsync_flags = 0
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    /// FUSE_FLUSH (close). 64 bytes.
    static let flush = message(
        header: fuseInHeader(len: 64, opcode: 25, unique: 0x2d, nodeid: 0x44),
        body: [
            // struct fuse_flush_in (24 bytes)
            0x46, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x46
            0x00, 0x00, 0x00, 0x00,                         // unused
            0x00, 0x00, 0x00, 0x00,                         // padding
            0xbc, 0x9a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0x9abc
        ])

    // MARK: Extended attributes

    /// Offset of the SETXATTR value in `setxattr`: header (40) + fuse_setxattr_in (8) + "user.k\0" (7).
    static let setxattrValueOffset = 55

    /// FUSE_SETXATTR user.k = "abc" with XATTR_CREATE, in the 8-byte compat fuse_setxattr_in
    /// (FUSE_COMPAT_SETXATTR_IN_SIZE) sent when FUSE_SETXATTR_EXT was not negotiated. 58 bytes.
    static let setxattr = message(
        header: fuseInHeader(len: 58, opcode: 21, unique: 0x29, nodeid: 0x40),
        body: [
            // struct fuse_setxattr_in, compat (8 bytes)
            0x03, 0x00, 0x00, 0x00,                         // size = 3
            0x01, 0x00, 0x00, 0x00,                         // flags = XATTR_CREATE
            0x75, 0x73, 0x65, 0x72, 0x2e, 0x6b, 0x00,       // name = "user.k\0"
            0x61, 0x62, 0x63,                               // value = "abc" (size bytes, no NUL)
        ])

    /// FUSE_SETXATTR system.posix_acl_access (a 4-byte stand-in value) with the 16-byte
    /// fuse_setxattr_in of FUSE_SETXATTR_EXT and FUSE_SETXATTR_ACL_KILL_SGID. 84 bytes.
    static let setxattrExtended = message(
        header: fuseInHeader(len: 84, opcode: 21, unique: 0x2b, nodeid: 0x42),
        body: [
            // struct fuse_setxattr_in (16 bytes)
            0x04, 0x00, 0x00, 0x00,                         // size = 4
            0x00, 0x00, 0x00, 0x00,                         // flags = 0
            0x01, 0x00, 0x00, 0x00,                         // setxattr_flags = FUSE_SETXATTR_ACL_KILL_SGID
            0x00, 0x00, 0x00, 0x00,                         // padding
            0x73, 0x79, 0x73, 0x74, 0x65, 0x6d, 0x2e,       // "system."
            0x70, 0x6f, 0x73, 0x69, 0x78, 0x5f, 0x61, 0x63, // "posix_ac"
            0x6c, 0x5f, 0x61, 0x63, 0x63, 0x65, 0x73, 0x73, // "l_access"
            0x00,                                           // NUL
            0x02, 0x00, 0x00, 0x00,                         // value (4 bytes)
        ])

    /// FUSE_GETXATTR user.k into a 256-byte buffer. 55 bytes.
    static let getxattr = message(
        header: fuseInHeader(len: 55, opcode: 22, unique: 0x2a, nodeid: 0x41),
        body: [
            // struct fuse_getxattr_in (8 bytes)
            0x00, 0x01, 0x00, 0x00,                         // size = 0x100
            0x00, 0x00, 0x00, 0x00,                         // padding
            0x75, 0x73, 0x65, 0x72, 0x2e, 0x6b, 0x00,       // name = "user.k\0"
        ])

    /// FUSE_LISTXATTR into a 4 KiB buffer (struct fuse_getxattr_in, no name). 48 bytes.
    static let listxattr = message(
        header: fuseInHeader(len: 48, opcode: 23, unique: 0x2b, nodeid: 0x42),
        body: [
            // struct fuse_getxattr_in (8 bytes)
            0x00, 0x10, 0x00, 0x00,                         // size = 0x1000
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    /// FUSE_REMOVEXATTR user.k: the name only. 47 bytes.
    static let removexattr = message(
        header: fuseInHeader(len: 47, opcode: 24, unique: 0x2c, nodeid: 0x43),
        body: [
            0x75, 0x73, 0x65, 0x72, 0x2e, 0x6b, 0x00,       // name = "user.k\0"
        ])

    // MARK: INIT

    /// FUSE_INIT from a 7.45 kernel: the 64-byte fuse_init_in (7.36+) with flags2. 104 bytes.
    /// flags = every bit 0...30 except FUSE_FILE_OPS (bit 2): includes FUSE_WRITEBACK_CACHE (16),
    /// FUSE_SETXATTR_EXT (29) and FUSE_INIT_EXT (30).
    /// flags2 = SECURITY_CTX (32) | CREATE_SUPP_GROUP (34) | HAS_EXPIRE_ONLY (35) |
    /// DIRECT_IO_ALLOW_MMAP (36) | PASSTHROUGH (37) | HAS_RESEND (39) | ALLOW_IDMAP (40), i.e. 0x1bd.
    static let initialize = message(
        header: fuseInHeader(len: 104, opcode: 26, unique: 0x2e, nodeid: 0),
        body: [
            // struct fuse_init_in (64 bytes)
            0x07, 0x00, 0x00, 0x00,                         // major = 7
            0x2d, 0x00, 0x00, 0x00,                         // minor = 45
            0x00, 0x00, 0x02, 0x00,                         // max_readahead = 0x20000
            0xfb, 0xff, 0xff, 0x7f,                         // flags = 0x7ffffffb
            0xbd, 0x01, 0x00, 0x00,                         // flags2 = 0x1bd (bit 5 = FUSE_PASSTHROUGH >> 32)
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[0..1]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[2..3]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[4..5]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[6..7]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[8..9]
            0x00, 0x00, 0x00, 0x00,                         // unused[10]
        ])

    // MARK: OPENDIR / READDIR / READDIRPLUS / ACCESS

    /// FUSE_OPENDIR with O_DIRECTORY|O_LARGEFILE. 48 bytes.
    static let opendir = message(
        header: fuseInHeader(len: 48, opcode: 27, unique: 0x2f, nodeid: 0x45),
        body: [
            // struct fuse_open_in (8 bytes)
            0x00, 0x80, 0x01, 0x00,                         // flags = O_DIRECTORY|O_LARGEFILE (0x18000)
            0x00, 0x00, 0x00, 0x00,                         // open_flags = 0
        ])

    /// FUSE_READDIR after cookie 3, 4 KiB. 80 bytes.
    static let readdir = message(
        header: fuseInHeader(len: 80, opcode: 28, unique: 0x30, nodeid: 0x46),
        body: [
            // struct fuse_read_in (40 bytes)
            0x47, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x47
            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 3
            0x00, 0x10, 0x00, 0x00,                         // size = 0x1000
            0x00, 0x00, 0x00, 0x00,                         // read_flags = 0
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0
            0x00, 0x80, 0x01, 0x00,                         // flags = 0x18000
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    /// FUSE_READDIRPLUS after a cookie above 4 G, 4 KiB. 80 bytes.
    static let readdirplus = message(
        header: fuseInHeader(len: 80, opcode: 44, unique: 0x31, nodeid: 0x47),
        body: [
            // struct fuse_read_in (40 bytes)
            0x48, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x48
            0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // offset = 0x1_0000_0000
            0x00, 0x10, 0x00, 0x00,                         // size = 0x1000
            0x00, 0x00, 0x00, 0x00,                         // read_flags = 0
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0
            0x00, 0x80, 0x01, 0x00,                         // flags = 0x18000
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    /// FUSE_ACCESS with R_OK|X_OK. 48 bytes.
    static let access = message(
        header: fuseInHeader(len: 48, opcode: 34, unique: 0x32, nodeid: 0x48),
        body: [
            // struct fuse_access_in (8 bytes)
            0x05, 0x00, 0x00, 0x00,                         // mask = R_OK|X_OK (5)
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    // MARK: INTERRUPT / FALLOCATE / LSEEK / COPY_FILE_RANGE / DESTROY

    /// FUSE_INTERRUPT of request 0x2468. The kernel sets FUSE_INT_REQ_BIT (bit 0) in the
    /// interrupt's own unique. 48 bytes.
    static let interrupt = message(
        header: fuseInHeader(len: 48, opcode: 36, unique: 0x2469, nodeid: 0),
        body: [
            // struct fuse_interrupt_in (8 bytes)
            0x68, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x2468
        ])

    /// FUSE_FALLOCATE punching a 4 GiB hole at 64 KiB. 72 bytes.
    static let fallocate = message(
        header: fuseInHeader(len: 72, opcode: 43, unique: 0x33, nodeid: 0x49),
        body: [
            // struct fuse_fallocate_in (32 bytes)
            0x49, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x49
            0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 0x10000
            0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // length = 0x1_0000_0000
            0x03, 0x00, 0x00, 0x00,                         // mode = KEEP_SIZE|PUNCH_HOLE (3)
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    /// FUSE_LSEEK with SEEK_DATA. 64 bytes.
    static let lseek = message(
        header: fuseInHeader(len: 64, opcode: 46, unique: 0x34, nodeid: 0x4a),
        body: [
            // struct fuse_lseek_in (24 bytes)
            0x4a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x4a
            0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 0x2000
            0x03, 0x00, 0x00, 0x00,                         // whence = SEEK_DATA (3)
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    /// FUSE_COPY_FILE_RANGE of 4 GiB. 96 bytes.
    static let copyFileRange = message(
        header: fuseInHeader(len: 96, opcode: 47, unique: 0x35, nodeid: 0x4b),
        body: [
            // struct fuse_copy_file_range_in (56 bytes)
            0x4b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh_in = 0x4b
            0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off_in = 0x100
            0x4c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid_out = 0x4c
            0x4d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh_out = 0x4d
            0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off_out = 0x200
            0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // len = 0x1_0000_0000
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // flags = 0
        ])

    /// FUSE_DESTROY: no argument struct. 40 bytes.
    static let destroy = fuseInHeader(len: 40, opcode: 38, unique: 0x36, nodeid: 0)

    // MARK: Unsupported

    /// An opcode the kernel does not define (9999 = 0x270f), header only. 40 bytes.
    static let unknownOpcode = fuseInHeader(len: 40, opcode: 9999, unique: 0x37, nodeid: 1)

    /// FUSE_GETLK: known to the kernel, not implemented by us. 88 bytes.
    static let getlk = message(
        header: fuseInHeader(len: 88, opcode: 31, unique: 0x38, nodeid: 0x4e),
        body: [
            // struct fuse_lk_in (48 bytes)
            0x4f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x4f
            0x11, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // owner = 0x1111
            // struct fuse_file_lock lk (24 bytes)
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // start = 0
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, // end = OFFSET_MAX
            0x01, 0x00, 0x00, 0x00,                         // type = F_WRLCK (1)
            0x92, 0x10, 0x00, 0x00,                         // pid = 4242
            0x00, 0x00, 0x00, 0x00,                         // lk_flags = 0
            0x00, 0x00, 0x00, 0x00,                         // padding
        ])

    // MARK: All of them

    /// Every golden request, for the truncation and dispatcher sweeps.
    static let all: [GoldenRequest] = [
        GoldenRequest(name: "LOOKUP", bytes: lookup),
        GoldenRequest(name: "FORGET", bytes: forget),
        GoldenRequest(name: "BATCH_FORGET", bytes: batchForget),
        GoldenRequest(name: "GETATTR", bytes: getattr),
        GoldenRequest(name: "GETATTR+FH", bytes: getattrWithHandle),
        GoldenRequest(name: "SETATTR", bytes: setattr),
        GoldenRequest(name: "SETATTR+NOW", bytes: setattrNow),
        GoldenRequest(name: "READLINK", bytes: readlink),
        GoldenRequest(name: "SYMLINK", bytes: symlink),
        GoldenRequest(name: "MKNOD", bytes: mknod),
        GoldenRequest(name: "MKDIR", bytes: mkdir),
        GoldenRequest(name: "UNLINK", bytes: unlink),
        GoldenRequest(name: "RMDIR", bytes: rmdir),
        GoldenRequest(name: "RENAME", bytes: rename),
        GoldenRequest(name: "RENAME2", bytes: rename2),
        GoldenRequest(name: "LINK", bytes: link),
        GoldenRequest(name: "OPEN", bytes: openFile),
        GoldenRequest(name: "CREATE", bytes: create),
        GoldenRequest(name: "TMPFILE", bytes: tmpfile),
        GoldenRequest(name: "READ", bytes: read),
        GoldenRequest(name: "WRITE", bytes: write),
        GoldenRequest(name: "STATFS", bytes: statfs),
        GoldenRequest(name: "RELEASE", bytes: release),
        GoldenRequest(name: "RELEASEDIR", bytes: releasedir),
        GoldenRequest(name: "FSYNC", bytes: fsync),
        GoldenRequest(name: "FSYNCDIR", bytes: fsyncdir),
        GoldenRequest(name: "SETXATTR", bytes: setxattr),
        GoldenRequest(name: "GETXATTR", bytes: getxattr),
        GoldenRequest(name: "LISTXATTR", bytes: listxattr),
        GoldenRequest(name: "REMOVEXATTR", bytes: removexattr),
        GoldenRequest(name: "FLUSH", bytes: flush),
        GoldenRequest(name: "INIT", bytes: initialize),
        GoldenRequest(name: "OPENDIR", bytes: opendir),
        GoldenRequest(name: "READDIR", bytes: readdir),
        GoldenRequest(name: "READDIRPLUS", bytes: readdirplus),
        GoldenRequest(name: "ACCESS", bytes: access),
        GoldenRequest(name: "INTERRUPT", bytes: interrupt),
        GoldenRequest(name: "FALLOCATE", bytes: fallocate),
        GoldenRequest(name: "LSEEK", bytes: lseek),
        GoldenRequest(name: "COPY_FILE_RANGE", bytes: copyFileRange),
        GoldenRequest(name: "DESTROY", bytes: destroy),
        GoldenRequest(name: "UNKNOWN(9999)", bytes: unknownOpcode),
        GoldenRequest(name: "GETLK", bytes: getlk),
    ]
}
