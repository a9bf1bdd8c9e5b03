// Golden bytes of the replies that carry data or a composite body, produced by the dispatcher
// from the golden requests over a filesystem with fixed answers: READDIRPLUS (struct
// fuse_direntplus: fuse_entry_out then fuse_dirent), LSEEK (struct fuse_lseek_out), READ,
// READLINK and LISTXATTR (the bytes themselves, no struct), hand-written from
// include/uapi/linux/fuse.h, little-endian.
import SystemPackage
import Testing

@testable import FUSEWire

/// Answers the data-bearing calls with fixed values; everything else as NullFileSystem.
final class CannedFileSystem: NullFileSystem {
    override func readDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                                emit: (DirectoryEntry) -> Bool) throws(Errno) {
        _ = emit(DirectoryEntry(name: [0x2e], inode: 0x47, type: 4, nextOffset: 1))
        _ = emit(DirectoryEntry(name: Array("a.c".utf8), inode: 0x999, type: 8, nextOffset: 5))
    }

    override func lookup(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno) -> Entry {
        guard name == Array("a.c".utf8) else { throw .noSuchFileOrDirectory }
        return Entry(inode: InodeNumber(0x33), generation: 7, attributes: ReplyGoldenTests.attributes)
    }

    override func seek(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, whence: UInt32) throws(Errno) -> UInt64 {
        0x1_0000_3000
    }

    override func read(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                       into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let data = Array("hello".utf8)
        buffer.copyBytes(from: data)
        return data.count
    }

    override func readLink(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) -> [UInt8] { Array("../t".utf8) }

    override func listExtendedAttributes(_ ctx: RequestContext, inode: InodeNumber, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let names = Array("user.a\0user.bc\0".utf8)
        guard buffer.count > 0 else { return names.count }
        buffer.copyBytes(from: names)
        return names.count
    }
}

struct DataReplyGoldenTests {
    /// A harness over CannedFileSystem after INIT, with the golden reply timeouts.
    func initializedHarness() -> DispatchHarness {
        var configuration = InitConfiguration()
        configuration.timeouts = ReplyGoldenTests.timeouts
        let harness = DispatchHarness(configuration: configuration, fileSystem: CannedFileSystem())
        harness.send(Golden.initialize)
        return harness
    }

    static func header(length: UInt32, unique: UInt8) -> [UInt8] {
        [UInt8(length & 0xff), UInt8(length >> 8), 0x00, 0x00,  // len
         0x00, 0x00, 0x00, 0x00,                                // error = 0
         unique, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]      // unique
    }

    @Test func readdirplusRepliesEntryOutThenDirentPerName() {
        let replies = initializedHarness().send(Golden.readdirplus).replies
        let expected = concat(
            Self.header(length: 16 + 160 + 160, unique: 0x31),  // len = 336
            // struct fuse_direntplus #1 for "." (160 bytes): a zeroed fuse_entry_out (no lookup
            // reference), then the dirent
            Array(repeating: 0, count: 128), [
            0x47, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 0x47
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 1
            0x01, 0x00, 0x00, 0x00,                         // namelen = 1
            0x04, 0x00, 0x00, 0x00,                         // type = DT_DIR
            0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // name = "." + padding to 8
            // struct fuse_direntplus #2 for "a.c" (160 bytes): the lookup's fuse_entry_out ...
        ], ReplyGoldenTests.entryOutBytes, [
            // ... and a dirent whose ino is the lookup's st_ino (0x1122), not the listing's 0x999
            0x22, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 0x1122
            0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 5
            0x03, 0x00, 0x00, 0x00,                         // namelen = 3
            0x08, 0x00, 0x00, 0x00,                         // type = DT_REG
            0x61, 0x2e, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00, // name = "a.c" + padding to 8
        ])
        #expect(replies == [expected])
    }

    @Test func lseekRepliesTheOffsetAsFuseLseekOut() {
        let replies = initializedHarness().send(Golden.lseek).replies
        #expect(replies == [Self.header(length: 24, unique: 0x34) + [
            // struct fuse_lseek_out (8 bytes)
            0x00, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // offset = 0x1_0000_3000
        ]])
    }

    @Test func readRepliesTheBytesRead() {
        let replies = initializedHarness().send(Golden.read).replies
        #expect(replies == [Self.header(length: 21, unique: 0x22) + [
            0x68, 0x65, 0x6c, 0x6c, 0x6f,                   // "hello", no struct, no padding
        ]])
    }

    @Test func readlinkRepliesTheTargetWithoutNUL() {
        let replies = initializedHarness().send(Golden.readlink).replies
        #expect(replies == [Self.header(length: 20, unique: 0x17) + [
            0x2e, 0x2e, 0x2f, 0x74,                         // "../t"
        ]])
    }

    @Test func listxattrRepliesNULSeparatedNames() {
        let replies = initializedHarness().send(Golden.listxattr).replies
        #expect(replies == [Self.header(length: 31, unique: 0x2b) + [
            0x75, 0x73, 0x65, 0x72, 0x2e, 0x61, 0x00,       // "user.a\0"
            0x75, 0x73, 0x65, 0x72, 0x2e, 0x62, 0x63, 0x00, // "user.bc\0"
        ]])
    }
}
