// Golden FUSE requests, written by hand from the struct layouts of include/uapi/linux/fuse.h
// (protocol 7.43/7.45), NOT produced by any encoder of ours. All integers are little-endian.
// Only the 40-byte fuse_in_header is produced by a helper (`fuseInHeader`, spelled out in
// TestSupport.swift); the LOOKUP request below spells the header out too, to pin that helper.
//
// Header values used throughout: uid = 1000, gid = 100, pid = 4242 (see `Caller`).
// Part 1: entries, attributes and names. Part 2 (GoldenRequests+IO.swift): I/O, xattrs,
// directories, INIT and the rest.

/// One golden request message, for parameterized tests.
struct GoldenRequest: Sendable, CustomStringConvertible {
    let name: String
    let bytes: [UInt8]
    var description: String { name }
}

enum Golden {
    // MARK: LOOKUP

    /// FUSE_LOOKUP "hello" in the root. 46 bytes.
    static let lookup: [UInt8] = [
        // struct fuse_in_header (40 bytes)
        0x2e, 0x00, 0x00, 0x00,                         // len = 46
        0x01, 0x00, 0x00, 0x00,                         // opcode = FUSE_LOOKUP (1)
        0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x10
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 1 (FUSE_ROOT_ID)
        0xe8, 0x03, 0x00, 0x00,                         // uid = 1000
        0x64, 0x00, 0x00, 0x00,                         // gid = 100
        0x92, 0x10, 0x00, 0x00,                         // pid = 4242
        0x00, 0x00,                                     // total_extlen = 0
        0x00, 0x00,                                     // padding
        // name
        0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00,             // "hello\0"
    ]

    // MARK: FORGET / BATCH_FORGET

    /// FUSE_FORGET of node 0x2a. 48 bytes.
    static let forget = message(
        header: fuseInHeader(len: 48, opcode: 2, unique: 0x11, nodeid: 0x2a),
        body: [
            // struct fuse_forget_in (8 bytes)
            0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // nlookup = 0x1_0000_0003
        ])

    /// FUSE_BATCH_FORGET of two nodes. 80 bytes.
    static let batchForget = message(
        header: fuseInHeader(len: 80, opcode: 42, unique: 0x12, nodeid: 0),
        body: [
            // struct fuse_batch_forget_in (8 bytes)
            0x02, 0x00, 0x00, 0x00,                         // count = 2
            0x00, 0x00, 0x00, 0x00,                         // dummy
            // struct fuse_forget_one [0] (16 bytes)
            0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 0x11
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nlookup = 1
            // struct fuse_forget_one [1] (16 bytes)
            0x22, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // nodeid = 0x1_0000_0022
            0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nlookup = 7
        ])

    // MARK: GETATTR / SETATTR

    /// FUSE_GETATTR without FUSE_GETATTR_FH: the fh field holds junk and must be ignored. 56 bytes.
    static let getattr = message(
        header: fuseInHeader(len: 56, opcode: 3, unique: 0x13, nodeid: 0x2b),
        body: [
            // struct fuse_getattr_in (16 bytes)
            0x00, 0x00, 0x00, 0x00,                         // getattr_flags = 0
            0x00, 0x00, 0x00, 0x00,                         // dummy
            0xad, 0xde, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0xdead (not valid)
        ])

    /// FUSE_GETATTR with FUSE_GETATTR_FH (fstat). 56 bytes.
    static let getattrWithHandle = message(
        header: fuseInHeader(len: 56, opcode: 3, unique: 0x14, nodeid: 0x2c),
        body: [
            // struct fuse_getattr_in (16 bytes)
            0x01, 0x00, 0x00, 0x00,                         // getattr_flags = FUSE_GETATTR_FH
            0x00, 0x00, 0x00, 0x00,                         // dummy
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // fh = 0x0102030405060708
        ])

    /// FUSE_SETATTR of mode, uid, gid, size, explicit atime and mtime, through a handle. 128 bytes.
    static let setattr = message(
        header: fuseInHeader(len: 128, opcode: 4, unique: 0x15, nodeid: 0x2d),
        body: [
            // struct fuse_setattr_in (88 bytes)
            0x7f, 0x00, 0x00, 0x00,                         // valid = MODE|UID|GID|SIZE|ATIME|MTIME|FH (0x7f)
            0x00, 0x00, 0x00, 0x00,                         // padding
            0x55, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x55
            0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // size = 0x1_0000_1000
            0xef, 0xbe, 0xad, 0xde, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0xdeadbeef (ignored)
            0x00, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // atime = 1700000000
            0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // mtime = -2 (before the epoch)
            0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ctime = 0x99 (no FATTR_CTIME: ignored)
            0x15, 0xcd, 0x5b, 0x07,                         // atimensec = 123456789
            0xb1, 0x68, 0xde, 0x3a,                         // mtimensec = 987654321
            0x07, 0x00, 0x00, 0x00,                         // ctimensec = 7 (ignored)
            0xa4, 0x81, 0x00, 0x00,                         // mode = 0o100644
            0x00, 0x00, 0x00, 0x00,                         // unused4
            0xe9, 0x03, 0x00, 0x00,                         // uid = 1001
            0xea, 0x03, 0x00, 0x00,                         // gid = 1002
            0x00, 0x00, 0x00, 0x00,                         // unused5
        ])

    /// FUSE_SETATTR as utimensat(UTIME_NOW, UTIME_NOW) on a setuid file: ATIME|ATIME_NOW and
    /// MTIME|MTIME_NOW (the kernel sets both bits), plus FATTR_KILL_SUIDGID. Every other field
    /// holds a value whose validity bit is clear. 128 bytes.
    static let setattrNow = message(
        header: fuseInHeader(len: 128, opcode: 4, unique: 0x16, nodeid: 0x2e),
        body: [
            // struct fuse_setattr_in (88 bytes)
            0xb0, 0x09, 0x00, 0x00,                         // valid = ATIME|MTIME|ATIME_NOW|MTIME_NOW|KILL_SUIDGID (0x9b0)
            0x00, 0x00, 0x00, 0x00,                         // padding
            0x56, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x56 (no FATTR_FH: ignored)
            0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // size = 5 (no FATTR_SIZE: ignored)
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // atime = 1 (overridden by ATIME_NOW)
            0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // mtime = 2 (overridden by MTIME_NOW)
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ctime = 0
            0x03, 0x00, 0x00, 0x00,                         // atimensec = 3
            0x04, 0x00, 0x00, 0x00,                         // mtimensec = 4
            0x00, 0x00, 0x00, 0x00,                         // ctimensec = 0
            0xff, 0x01, 0x00, 0x00,                         // mode = 0o777 (no FATTR_MODE: ignored)
            0x00, 0x00, 0x00, 0x00,                         // unused4
            0x07, 0x00, 0x00, 0x00,                         // uid = 7 (no FATTR_UID: ignored)
            0x08, 0x00, 0x00, 0x00,                         // gid = 8 (no FATTR_GID: ignored)
            0x00, 0x00, 0x00, 0x00,                         // unused5
        ])

    // MARK: READLINK / SYMLINK / MKNOD / MKDIR

    /// FUSE_READLINK: no argument struct. 40 bytes.
    static let readlink = fuseInHeader(len: 40, opcode: 5, unique: 0x17, nodeid: 0x2f)

    /// FUSE_SYMLINK "link" -> "target/path": the entry name comes first, then the target
    /// (fs/fuse/dir.c fuse_symlink: in_args[0] = name, in_args[1] = link). 57 bytes.
    static let symlink = message(
        header: fuseInHeader(len: 57, opcode: 6, unique: 0x18, nodeid: 0x30),
        body: [
            0x6c, 0x69, 0x6e, 0x6b, 0x00,                   // name = "link\0"
            0x74, 0x61, 0x72, 0x67, 0x65, 0x74, 0x2f,       // target = "target/
            0x70, 0x61, 0x74, 0x68, 0x00,                   //           path\0"
        ])

    /// FUSE_MKNOD of a FIFO "fifo". 61 bytes.
    static let mknod = message(
        header: fuseInHeader(len: 61, opcode: 8, unique: 0x19, nodeid: 0x31),
        body: [
            // struct fuse_mknod_in (16 bytes)
            0xa4, 0x11, 0x00, 0x00,                         // mode = S_IFIFO | 0o644 (0o010644)
            0x03, 0x08, 0x00, 0x00,                         // rdev = 0x803
            0x12, 0x00, 0x00, 0x00,                         // umask = 0o022
            0x00, 0x00, 0x00, 0x00,                         // padding
            0x66, 0x69, 0x66, 0x6f, 0x00,                   // name = "fifo\0"
        ])

    /// FUSE_MKDIR "dir". 52 bytes.
    static let mkdir = message(
        header: fuseInHeader(len: 52, opcode: 9, unique: 0x1a, nodeid: 0x32),
        body: [
            // struct fuse_mkdir_in (8 bytes)
            0xed, 0x01, 0x00, 0x00,                         // mode = 0o755
            0x12, 0x00, 0x00, 0x00,                         // umask = 0o022
            0x64, 0x69, 0x72, 0x00,                         // name = "dir\0"
        ])

    // MARK: UNLINK / RMDIR / RENAME / RENAME2 / LINK

    /// FUSE_UNLINK "gone". 45 bytes.
    static let unlink = message(
        header: fuseInHeader(len: 45, opcode: 10, unique: 0x1b, nodeid: 0x33),
        body: [
            0x67, 0x6f, 0x6e, 0x65, 0x00,                   // name = "gone\0"
        ])

    /// FUSE_RMDIR "olddir". 47 bytes.
    static let rmdir = message(
        header: fuseInHeader(len: 47, opcode: 11, unique: 0x1c, nodeid: 0x34),
        body: [
            0x6f, 0x6c, 0x64, 0x64, 0x69, 0x72, 0x00,       // name = "olddir\0"
        ])

    /// FUSE_RENAME "a" (in node 0x35) -> "bb" (in node 0x77). 53 bytes.
    static let rename = message(
        header: fuseInHeader(len: 53, opcode: 12, unique: 0x1d, nodeid: 0x35),
        body: [
            // struct fuse_rename_in (8 bytes)
            0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // newdir = 0x77
            0x61, 0x00,                                     // oldname = "a\0"
            0x62, 0x62, 0x00,                               // newname = "bb\0"
        ])

    /// FUSE_RENAME2 "src" -> "dst" with RENAME_EXCHANGE. 64 bytes.
    static let rename2 = message(
        header: fuseInHeader(len: 64, opcode: 45, unique: 0x1e, nodeid: 0x36),
        body: [
            // struct fuse_rename2_in (16 bytes)
            0x78, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // newdir = 0x1_0000_0078
            0x02, 0x00, 0x00, 0x00,                         // flags = RENAME_EXCHANGE (2)
            0x00, 0x00, 0x00, 0x00,                         // padding
            0x73, 0x72, 0x63, 0x00,                         // oldname = "src\0"
            0x64, 0x73, 0x74, 0x00,                         // newname = "dst\0"
        ])

    /// FUSE_LINK: node 0x99 gets the new name "hard" in directory 0x37 (the header's nodeid). 53 bytes.
    static let link = message(
        header: fuseInHeader(len: 53, opcode: 13, unique: 0x1f, nodeid: 0x37),
        body: [
            // struct fuse_link_in (8 bytes)
            0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // oldnodeid = 0x99
            0x68, 0x61, 0x72, 0x64, 0x00,                   // newname = "hard\0"
        ])

    // MARK: OPEN / CREATE

    /// FUSE_OPEN with O_RDWR|O_TRUNC|O_LARGEFILE. 48 bytes.
    static let openFile = message(
        header: fuseInHeader(len: 48, opcode: 14, unique: 0x20, nodeid: 0x38),
        body: [
            // struct fuse_open_in (8 bytes)
            0x02, 0x82, 0x00, 0x00,                         // flags = O_RDWR|O_TRUNC|O_LARGEFILE (0x8202)
            0x01, 0x00, 0x00, 0x00,                         // open_flags = FUSE_OPEN_KILL_SUIDGID (not surfaced)
        ])

    /// FUSE_CREATE "new.txt" with O_WRONLY|O_CREAT|O_EXCL|O_LARGEFILE. 64 bytes.
    static let create = message(
        header: fuseInHeader(len: 64, opcode: 35, unique: 0x21, nodeid: 0x39),
        body: [
            // struct fuse_create_in (16 bytes)
            0xc1, 0x80, 0x00, 0x00,                         // flags = O_WRONLY|O_CREAT|O_EXCL|O_LARGEFILE (0x80c1)
            0x80, 0x81, 0x00, 0x00,                         // mode = 0o100600
            0x3f, 0x00, 0x00, 0x00,                         // umask = 0o077
            0x00, 0x00, 0x00, 0x00,                         // open_flags = 0
            0x6e, 0x65, 0x77, 0x2e, 0x74, 0x78, 0x74, 0x00, // name = "new.txt\0"
        ])

    /// FUSE_TMPFILE (51) from open(dir, O_TMPFILE|O_RDWR, 0640): a fuse_create_in like
    /// CREATE's, and the kernel's placeholder name "/". 58 bytes.
    static let tmpfile = message(
        header: fuseInHeader(len: 58, opcode: 51, unique: 0x22, nodeid: 0x3a),
        body: [
            // struct fuse_create_in (16 bytes)
            0x02, 0x80, 0x41, 0x00,                         // flags = O_RDWR|O_LARGEFILE|O_DIRECTORY|__O_TMPFILE (0x418002)
            0xa0, 0x81, 0x00, 0x00,                         // mode = 0o100640
            0x12, 0x00, 0x00, 0x00,                         // umask = 0o022
            0x00, 0x00, 0x00, 0x00,                         // open_flags = 0
            0x2f, 0x00,                                     // name = "/\0"
        ])
}
