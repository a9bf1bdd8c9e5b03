// Golden reply bytes for each encoder of ReplyWriter, written by hand from the struct layouts of
// include/uapi/linux/fuse.h (fuse_out_header, fuse_attr, fuse_attr_out, fuse_entry_out,
// fuse_open_out, fuse_kstatfs, fuse_write_out, fuse_getxattr_out, fuse_dirent, fuse_init_out).
// Every reply below answers unique 0x1122334455667788. All integers are little-endian.
import Testing

@testable import FUSEWire

struct ReplyGoldenTests {
    static let unique: UInt64 = 0x1122_3344_5566_7788

    /// Builds a reply in a fresh 64 KiB buffer; `build` returns `finish()` or `finishError(_:)`.
    func encoded(_ build: (inout ReplyWriter) -> UnsafeRawBufferPointer) -> [UInt8] {
        withReplyBuffer { buffer in
            var writer = ReplyWriter(buffer: buffer, unique: RequestID(rawValue: Self.unique))
            return Array(build(&writer))
        }
    }

    static let timeouts = CacheTimeouts(entrySeconds: 2.25, attributeSeconds: 1.5)

    static let attributes = Attributes(
        inode: 0x1122, size: 0x1_0000_0010, blocks: 9, accessSeconds: 1_700_000_000, modificationSeconds: -1,
        changeSeconds: 5, accessNanoseconds: 1, modificationNanoseconds: 2, changeNanoseconds: 3, mode: 0o100644,
        linkCount: 2, uid: 1000, gid: 100, rdev: 0x803, blockSize: 4096)

    /// struct fuse_attr (88 bytes) for `attributes`.
    static let attrBytes: [UInt8] = [
        0x22, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 0x1122
        0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // size = 0x1_0000_0010
        0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // blocks = 9
        0x00, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // atime = 1700000000
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // mtime = -1
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ctime = 5
        0x01, 0x00, 0x00, 0x00,                         // atimensec = 1
        0x02, 0x00, 0x00, 0x00,                         // mtimensec = 2
        0x03, 0x00, 0x00, 0x00,                         // ctimensec = 3
        0xa4, 0x81, 0x00, 0x00,                         // mode = 0o100644
        0x02, 0x00, 0x00, 0x00,                         // nlink = 2
        0xe8, 0x03, 0x00, 0x00,                         // uid = 1000
        0x64, 0x00, 0x00, 0x00,                         // gid = 100
        0x03, 0x08, 0x00, 0x00,                         // rdev = 0x803
        0x00, 0x10, 0x00, 0x00,                         // blksize = 4096
        0x00, 0x00, 0x00, 0x00,                         // flags = 0
    ]

    /// struct fuse_entry_out (128 bytes) for node 0x33, generation 7, `timeouts`, `attributes`.
    static let entryOutBytes = concat([
        0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 0x33
        0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // generation = 7
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // entry_valid = 2 s
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // attr_valid = 1 s
        0x80, 0xb2, 0xe6, 0x0e,                         // entry_valid_nsec = 250000000
        0x00, 0x65, 0xcd, 0x1d,                         // attr_valid_nsec = 500000000
    ], attrBytes)                                       // attr (88 bytes)

    // MARK: fuse_out_header and errors

    @Test func errorReplyIsHeaderOnlyWithNegatedErrno() {
        let reply = encoded { w in w.finishError(2) }
        let expected: [UInt8] = [
            0x10, 0x00, 0x00, 0x00,                         // len = 16
            0xfe, 0xff, 0xff, 0xff,                         // error = -2 (-ENOENT)
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
        ]
        #expect(reply == expected)
    }

    @Test func errorReplyDiscardsBodyAlreadyWritten() {
        let reply = encoded { w in
            w.attrOut(Self.attributes, timeouts: Self.timeouts)
            return w.finishError(13)
        }
        let expected: [UInt8] = [
            0x10, 0x00, 0x00, 0x00,                         // len = 16
            0xf3, 0xff, 0xff, 0xff,                         // error = -13 (-EACCES)
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
        ]
        #expect(reply == expected)
    }

    @Test func errorReplyWithZeroOrNegativeErrnoBecomesEIO() {
        let expected: [UInt8] = [
            0x10, 0x00, 0x00, 0x00,                         // len = 16
            0xfb, 0xff, 0xff, 0xff,                         // error = -5 (-EIO)
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
        ]
        let zero = encoded { w in w.finishError(0) }
        let negative = encoded { w in w.finishError(-7) }
        #expect(zero == expected)
        #expect(negative == expected)
    }

    @Test func emptySuccessReplyIsHeaderOnlyWithZeroError() {
        let reply = encoded { w in w.finish() }
        let expected: [UInt8] = [
            0x10, 0x00, 0x00, 0x00,                         // len = 16
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
        ]
        #expect(reply == expected)
    }

    // MARK: fuse_attr_out / fuse_entry_out

    @Test func attrOutIs104BytesWithValidityThenAttr() {
        let reply = encoded { w in
            w.attrOut(Self.attributes, timeouts: Self.timeouts)
            return w.finish()
        }
        let expected = concat([
            // struct fuse_out_header
            0x78, 0x00, 0x00, 0x00,                         // len = 120
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            // struct fuse_attr_out
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // attr_valid = 1 s
            0x00, 0x65, 0xcd, 0x1d,                         // attr_valid_nsec = 500000000
            0x00, 0x00, 0x00, 0x00,                         // dummy
        ], Self.attrBytes)                                  // attr (88 bytes)
        #expect(reply.count == 16 + 104)
        #expect(reply == expected)
    }

    @Test func entryOutIs128BytesWithNodeGenerationTimeoutsAndAttr() {
        let reply = encoded { w in
            w.entry(Entry(inode: InodeNumber(0x33), generation: 7, attributes: Self.attributes), timeouts: Self.timeouts)
            return w.finish()
        }
        let header: [UInt8] = [
            0x90, 0x00, 0x00, 0x00,                         // len = 144
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
        ]
        #expect(Self.entryOutBytes.count == 128)
        #expect(reply == concat(header, Self.entryOutBytes))
    }

    @Test func nonPositiveOrNonFiniteTimeoutsEncodeAsZero() {
        for seconds in [0.0, -1.0, Double.infinity, Double.nan] {
            let (whole, nanos) = ReplyWriter.split(seconds)
            #expect(whole == 0 && nanos == 0, "timeout \(seconds)")
        }
        let (whole, nanos) = ReplyWriter.split(1.5)
        #expect(whole == 1 && nanos == 500_000_000)
    }

    // MARK: fuse_open_out / CREATE

    @Test func openOutIs16BytesWithHandleFlagsAndBackingID() {
        let reply = encoded { w in
            w.openOut(OpenResult(handle: FileHandleID(0x1_0000_0002), flags: [.keepCache, .passthrough],
                                 backingID: BackingID(rawValue: 5)))
            return w.finish()
        }
        let expected: [UInt8] = [
            // struct fuse_out_header
            0x20, 0x00, 0x00, 0x00,                         // len = 32
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            // struct fuse_open_out
            0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // fh = 0x1_0000_0002
            0x82, 0x00, 0x00, 0x00,                         // open_flags = KEEP_CACHE|PASSTHROUGH
            0x05, 0x00, 0x00, 0x00,                         // backing_id = 5
        ]
        #expect(reply == expected)
    }

    @Test func openOutWithoutBackingIDWritesZero() {
        let reply = encoded { w in
            w.openOut(OpenResult(handle: FileHandleID(7), flags: [.directIO]))
            return w.finish()
        }
        let expected: [UInt8] = [
            0x20, 0x00, 0x00, 0x00,                         // len = 32
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 7
            0x01, 0x00, 0x00, 0x00,                         // open_flags = FOPEN_DIRECT_IO
            0x00, 0x00, 0x00, 0x00,                         // backing_id = 0
        ]
        #expect(reply == expected)
    }

    @Test func createReplyIsEntryOutFollowedByOpenOut() {
        let reply = encoded { w in
            w.entry(Entry(inode: InodeNumber(0x33), generation: 7, attributes: Self.attributes), timeouts: Self.timeouts)
            w.openOut(OpenResult(handle: FileHandleID(0x99)))
            return w.finish()
        }
        let header: [UInt8] = [
            0xa0, 0x00, 0x00, 0x00,                         // len = 160
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
        ]
        let openOut: [UInt8] = [
            0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 0x99
            0x00, 0x00, 0x00, 0x00,                         // open_flags = 0
            0x00, 0x00, 0x00, 0x00,                         // backing_id = 0
        ]
        #expect(reply == concat(header, Self.entryOutBytes, openOut))
    }

    // MARK: fuse_kstatfs / fuse_write_out / fuse_getxattr_out

    @Test func statfsIs80BytesWithSpareZeroed() {
        let reply = encoded { w in
            w.statfs(StatFS(blocks: 1000, freeBlocks: 500, availableBlocks: 400, files: 100, freeFiles: 50,
                            blockSize: 4096, nameMax: 255, fragmentSize: 4096))
            return w.finish()
        }
        let expected: [UInt8] = [
            // struct fuse_out_header
            0x60, 0x00, 0x00, 0x00,                         // len = 96
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            // struct fuse_kstatfs
            0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // blocks = 1000
            0xf4, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // bfree = 500
            0x90, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // bavail = 400
            0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // files = 100
            0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ffree = 50
            0x00, 0x10, 0x00, 0x00,                         // bsize = 4096
            0xff, 0x00, 0x00, 0x00,                         // namelen = 255
            0x00, 0x10, 0x00, 0x00,                         // frsize = 4096
            0x00, 0x00, 0x00, 0x00,                         // padding
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // spare[0..1]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // spare[2..3]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // spare[4..5]
        ]
        #expect(reply == expected)
    }

    @Test func writeOutIs8BytesSizeThenPadding() {
        let reply = encoded { w in
            w.writeOut(size: 0x1000)
            return w.finish()
        }
        let expected: [UInt8] = [
            0x18, 0x00, 0x00, 0x00,                         // len = 24
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            // struct fuse_write_out
            0x00, 0x10, 0x00, 0x00,                         // size = 0x1000
            0x00, 0x00, 0x00, 0x00,                         // padding
        ]
        #expect(reply == expected)
    }

    @Test func getxattrOutIs8BytesSizeThenPadding() {
        let reply = encoded { w in
            w.xattrSize(0x1234)
            return w.finish()
        }
        let expected: [UInt8] = [
            0x18, 0x00, 0x00, 0x00,                         // len = 24
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            // struct fuse_getxattr_out
            0x34, 0x12, 0x00, 0x00,                         // size = 0x1234
            0x00, 0x00, 0x00, 0x00,                         // padding
        ]
        #expect(reply == expected)
    }

    // MARK: fuse_dirent

    @Test func direntSizeIsNameOffsetPlusNameRoundedUpTo8() {
        #expect(ReplyWriter.direntSize(nameLength: 0) == 24)
        #expect(ReplyWriter.direntSize(nameLength: 1) == 32)
        #expect(ReplyWriter.direntSize(nameLength: 8) == 32)
        #expect(ReplyWriter.direntSize(nameLength: 9) == 40)
    }

    @Test func direntsArePaddedToEightBytesWithZeros() {
        let reply = encoded { w in
            w.dirent(DirectoryEntry(name: Array("a".utf8), inode: 0x10, type: 4, nextOffset: 1))
            w.dirent(DirectoryEntry(name: Array("abcdefghi".utf8), inode: 0x1_0000_0011, type: 8, nextOffset: 2))
            return w.finish()
        }
        let expected: [UInt8] = [
            // struct fuse_out_header
            0x58, 0x00, 0x00, 0x00,                         // len = 88
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            // struct fuse_dirent #1 (32 bytes)
            0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 0x10
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 1
            0x01, 0x00, 0x00, 0x00,                         // namelen = 1
            0x04, 0x00, 0x00, 0x00,                         // type = DT_DIR
            0x61,                                           // name = "a"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,       // padding to 8
            // struct fuse_dirent #2 (40 bytes)
            0x11, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // ino = 0x1_0000_0011
            0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 2
            0x09, 0x00, 0x00, 0x00,                         // namelen = 9
            0x08, 0x00, 0x00, 0x00,                         // type = DT_REG
            0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, // name = "abcdefgh
            0x69,                                           //         i"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,       // padding to 8
        ]
        #expect(reply == expected)
    }

    @Test func direntWithEightByteNameHasNoPadding() {
        let reply = encoded { w in
            w.dirent(DirectoryEntry(name: Array("abcdefgh".utf8), inode: 0x12, type: 10, nextOffset: 3))
            return w.finish()
        }
        let expected: [UInt8] = [
            0x30, 0x00, 0x00, 0x00,                         // len = 48
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 0x12
            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 3
            0x08, 0x00, 0x00, 0x00,                         // namelen = 8
            0x0a, 0x00, 0x00, 0x00,                         // type = DT_LNK
            0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, // name = "abcdefgh" (no padding)
        ]
        #expect(reply == expected)
    }

    // MARK: fuse_init_out

    /// FUSE_ASYNC_READ | ATOMIC_O_TRUNC | EXPORT_SUPPORT | BIG_WRITES | AUTO_INVAL_DATA |
    /// DO_READDIRPLUS | READDIRPLUS_AUTO | ASYNC_DIO | PARALLEL_DIROPS | MAX_PAGES |
    /// CACHE_SYMLINKS | INIT_EXT: bits 0, 3, 4, 5, 12, 13, 14, 15, 18, 22, 23, 30.
    static let ourLowFlags: UInt64 = 0x40c4_f039

    @Test func initOutWithPassthroughIs64BytesWithFlags2AndStackDepth() {
        let negotiated = Negotiated(minor: 40, flags: InitFlags(rawValue: Self.ourLowFlags | 1 << 37),
                                    maxWrite: 1 << 20, maxReadahead: 0x20000)
        let reply = encoded { w in
            w.initOut(negotiated, configuration: InitConfiguration())
            return w.finish()
        }
        let expected: [UInt8] = [
            // struct fuse_out_header
            0x50, 0x00, 0x00, 0x00,                         // len = 80
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            // struct fuse_init_out (64 bytes)
            0x07, 0x00, 0x00, 0x00,                         // major = 7
            0x28, 0x00, 0x00, 0x00,                         // minor = 40
            0x00, 0x00, 0x02, 0x00,                         // max_readahead = 0x20000
            0x39, 0xf0, 0xc4, 0x40,                         // flags = 0x40c4f039
            0x40, 0x00,                                     // max_background = 64
            0x30, 0x00,                                     // congestion_threshold = 48
            0x00, 0x00, 0x10, 0x00,                         // max_write = 1 MiB
            0x01, 0x00, 0x00, 0x00,                         // time_gran = 1 ns
            0x00, 0x01,                                     // max_pages = 256
            0x00, 0x00,                                     // map_alignment = 0
            0x20, 0x00, 0x00, 0x00,                         // flags2 = FUSE_PASSTHROUGH >> 32
            0x01, 0x00, 0x00, 0x00,                         // max_stack_depth = 1
            0x00, 0x00,                                     // request_timeout = 0
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             // unused[0..2]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[3..6]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[7..10]
        ]
        #expect(reply == expected)
    }

    @Test func initOutWithoutPassthroughHasZeroFlags2AndStackDepth() {
        let negotiated = Negotiated(minor: 31, flags: InitFlags(rawValue: Self.ourLowFlags),
                                    maxWrite: 128 * 1024, maxReadahead: 0x1000)
        var configuration = InitConfiguration()
        configuration.maxBackground = 12
        configuration.congestionThreshold = 9
        let reply = encoded { w in
            w.initOut(negotiated, configuration: configuration)
            return w.finish()
        }
        let expected: [UInt8] = [
            // struct fuse_out_header
            0x50, 0x00, 0x00, 0x00,                         // len = 80
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // unique
            // struct fuse_init_out (64 bytes)
            0x07, 0x00, 0x00, 0x00,                         // major = 7
            0x1f, 0x00, 0x00, 0x00,                         // minor = 31
            0x00, 0x10, 0x00, 0x00,                         // max_readahead = 0x1000
            0x39, 0xf0, 0xc4, 0x40,                         // flags = 0x40c4f039
            0x0c, 0x00,                                     // max_background = 12
            0x09, 0x00,                                     // congestion_threshold = 9
            0x00, 0x00, 0x02, 0x00,                         // max_write = 128 KiB
            0x01, 0x00, 0x00, 0x00,                         // time_gran = 1 ns
            0x20, 0x00,                                     // max_pages = 32
            0x00, 0x00,                                     // map_alignment = 0
            0x00, 0x00, 0x00, 0x00,                         // flags2 = 0
            0x00, 0x00, 0x00, 0x00,                         // max_stack_depth = 0
            0x00, 0x00,                                     // request_timeout = 0
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             // unused[0..2]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[3..6]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[7..10]
        ]
        #expect(reply == expected)
    }
}
