// Decodes each hand-written golden request (GoldenRequests*.swift) and checks every field
// against the values written into the bytes. Part 1: header, entries, attributes, names.
import Testing

@testable import FUSEWire

struct RequestGoldenTests {
    // MARK: Header

    @Test func lookupHeaderDecodesEveryHeaderField() throws {
        try withDecoded(Golden.lookup) { request, _ in
            #expect(request.header.length == 46)
            #expect(request.header.opcode == FUSEOpcode.lookup.rawValue)
            #expect(request.header.unique == RequestID(rawValue: 0x10))
            #expect(request.header.nodeID == InodeNumber.root)
            #expect(request.header.uid == 1000)
            #expect(request.header.gid == 100)
            #expect(request.header.pid == 4242)
            #expect(request.header.totalExtensionLength == 0)
        }
    }

    @Test func headerHelperMatchesHandWrittenHeader() {
        #expect(fuseInHeader(len: 46, opcode: 1, unique: 0x10, nodeid: 1) == Array(Golden.lookup[0..<40]))
    }

    // MARK: LOOKUP / FORGET / BATCH_FORGET

    @Test func lookupDecodesName() throws {
        try withDecoded(Golden.lookup) { request, _ in
            guard case .lookup(let name) = request.body else { Issue.record("not LOOKUP: \(request.body)"); return }
            #expect(name == Array("hello".utf8))
        }
    }

    @Test func forgetDecodesFullWidthLookupCount() throws {
        try withDecoded(Golden.forget) { request, _ in
            expectHeader(request.header, len: 48, opcode: 2, unique: 0x11, nodeid: 0x2a)
            guard case .forget(let count) = request.body else { Issue.record("not FORGET: \(request.body)"); return }
            #expect(count == 0x1_0000_0003)
        }
    }

    @Test func batchForgetDecodesEveryForgetOne() throws {
        try withDecoded(Golden.batchForget) { request, _ in
            expectHeader(request.header, len: 80, opcode: 42, unique: 0x12, nodeid: 0)
            guard case .batchForget(let items) = request.body else { Issue.record("not BATCH_FORGET: \(request.body)"); return }
            #expect(items.map { $0.0 } == [InodeNumber(0x11), InodeNumber(0x1_0000_0022)])
            #expect(items.map { $0.1 } == [1, 7])
        }
    }

    // MARK: GETATTR / SETATTR

    @Test func getattrWithoutHandleFlagIgnoresHandleField() throws {
        try withDecoded(Golden.getattr) { request, _ in
            expectHeader(request.header, len: 56, opcode: 3, unique: 0x13, nodeid: 0x2b)
            guard case .getattr(let handle) = request.body else { Issue.record("not GETATTR: \(request.body)"); return }
            #expect(handle == nil)
        }
    }

    @Test func getattrWithHandleFlagDecodesHandle() throws {
        try withDecoded(Golden.getattrWithHandle) { request, _ in
            expectHeader(request.header, len: 56, opcode: 3, unique: 0x14, nodeid: 0x2c)
            guard case .getattr(let handle) = request.body else { Issue.record("not GETATTR: \(request.body)"); return }
            #expect(handle == FileHandleID(0x0102_0304_0506_0708))
        }
    }

    @Test func setattrDecodesEveryValidField() throws {
        try withDecoded(Golden.setattr) { request, _ in
            expectHeader(request.header, len: 128, opcode: 4, unique: 0x15, nodeid: 0x2d)
            guard case .setattr(let changes) = request.body else { Issue.record("not SETATTR: \(request.body)"); return }
            #expect(changes.mode == 0o100644)
            #expect(changes.uid == 1001)
            #expect(changes.gid == 1002)
            #expect(changes.size == 0x1_0000_1000)
            #expect(changes.accessTime == .time(seconds: 1_700_000_000, nanoseconds: 123_456_789))
            #expect(changes.modificationTime == .time(seconds: -2, nanoseconds: 987_654_321))
            #expect(changes.handle == FileHandleID(0x55))
            #expect(changes.killSetIDBits == false)
            #expect(changes == AttributeChanges(
                mode: 0o100644, uid: 1001, gid: 1002, size: 0x1_0000_1000,
                accessTime: .time(seconds: 1_700_000_000, nanoseconds: 123_456_789),
                modificationTime: .time(seconds: -2, nanoseconds: 987_654_321),
                handle: FileHandleID(0x55), killSetIDBits: false))
        }
    }

    @Test func setattrNowBitsWinOverExplicitTimesAndClearBitsHideFields() throws {
        try withDecoded(Golden.setattrNow) { request, _ in
            expectHeader(request.header, len: 128, opcode: 4, unique: 0x16, nodeid: 0x2e)
            guard case .setattr(let changes) = request.body else { Issue.record("not SETATTR: \(request.body)"); return }
            #expect(changes == AttributeChanges(accessTime: .now, modificationTime: .now, killSetIDBits: true))
        }
    }

    // MARK: READLINK / SYMLINK / MKNOD / MKDIR

    @Test func readlinkHasNoArguments() throws {
        try withDecoded(Golden.readlink) { request, _ in
            expectHeader(request.header, len: 40, opcode: 5, unique: 0x17, nodeid: 0x2f)
            guard case .readlink = request.body else { Issue.record("not READLINK: \(request.body)"); return }
        }
    }

    @Test func symlinkDecodesNameFirstThenTarget() throws {
        try withDecoded(Golden.symlink) { request, _ in
            expectHeader(request.header, len: 57, opcode: 6, unique: 0x18, nodeid: 0x30)
            guard case .symlink(let name, let target) = request.body else { Issue.record("not SYMLINK: \(request.body)"); return }
            #expect(name == Array("link".utf8))
            #expect(target == Array("target/path".utf8))
        }
    }

    @Test func mknodDecodesModeRdevUmaskAndName() throws {
        try withDecoded(Golden.mknod) { request, _ in
            expectHeader(request.header, len: 61, opcode: 8, unique: 0x19, nodeid: 0x31)
            guard case .mknod(let name, let mode, let rdev, let umask) = request.body else {
                Issue.record("not MKNOD: \(request.body)"); return
            }
            #expect(name == Array("fifo".utf8))
            #expect(mode == 0o010644)
            #expect(rdev == 0x803)
            #expect(umask == 0o022)
        }
    }

    @Test func mkdirDecodesModeUmaskAndName() throws {
        try withDecoded(Golden.mkdir) { request, _ in
            expectHeader(request.header, len: 52, opcode: 9, unique: 0x1a, nodeid: 0x32)
            guard case .mkdir(let name, let mode, let umask) = request.body else { Issue.record("not MKDIR: \(request.body)"); return }
            #expect(name == Array("dir".utf8))
            #expect(mode == 0o755)
            #expect(umask == 0o022)
        }
    }

    // MARK: UNLINK / RMDIR / RENAME / RENAME2 / LINK

    @Test func unlinkDecodesName() throws {
        try withDecoded(Golden.unlink) { request, _ in
            expectHeader(request.header, len: 45, opcode: 10, unique: 0x1b, nodeid: 0x33)
            guard case .unlink(let name) = request.body else { Issue.record("not UNLINK: \(request.body)"); return }
            #expect(name == Array("gone".utf8))
        }
    }

    @Test func rmdirDecodesName() throws {
        try withDecoded(Golden.rmdir) { request, _ in
            expectHeader(request.header, len: 47, opcode: 11, unique: 0x1c, nodeid: 0x34)
            guard case .rmdir(let name) = request.body else { Issue.record("not RMDIR: \(request.body)"); return }
            #expect(name == Array("olddir".utf8))
        }
    }

    @Test func renameDecodesNewDirectoryAndBothNamesWithZeroFlags() throws {
        try withDecoded(Golden.rename) { request, _ in
            expectHeader(request.header, len: 53, opcode: 12, unique: 0x1d, nodeid: 0x35)
            guard case .rename(let name, let newParent, let newName, let flags) = request.body else {
                Issue.record("not RENAME: \(request.body)"); return
            }
            #expect(name == Array("a".utf8))
            #expect(newParent == InodeNumber(0x77))
            #expect(newName == Array("bb".utf8))
            #expect(flags == 0)
        }
    }

    @Test func rename2DecodesNewDirectoryFlagsAndBothNames() throws {
        try withDecoded(Golden.rename2) { request, _ in
            expectHeader(request.header, len: 64, opcode: 45, unique: 0x1e, nodeid: 0x36)
            guard case .rename(let name, let newParent, let newName, let flags) = request.body else {
                Issue.record("not RENAME2: \(request.body)"); return
            }
            #expect(name == Array("src".utf8))
            #expect(newParent == InodeNumber(0x1_0000_0078))
            #expect(newName == Array("dst".utf8))
            #expect(flags == 2)  // RENAME_EXCHANGE
        }
    }

    @Test func linkDecodesOldNodeAndNewName() throws {
        try withDecoded(Golden.link) { request, _ in
            expectHeader(request.header, len: 53, opcode: 13, unique: 0x1f, nodeid: 0x37)
            guard case .link(let oldNode, let newName) = request.body else { Issue.record("not LINK: \(request.body)"); return }
            #expect(oldNode == InodeNumber(0x99))
            #expect(newName == Array("hard".utf8))
        }
    }

    // MARK: OPEN / CREATE

    @Test func openDecodesFlags() throws {
        try withDecoded(Golden.openFile) { request, _ in
            expectHeader(request.header, len: 48, opcode: 14, unique: 0x20, nodeid: 0x38)
            guard case .open(let flags, _) = request.body else { Issue.record("not OPEN: \(request.body)"); return }
            #expect(flags == 0x8202)
        }
    }

    @Test func tmpfileDecodesFlagsModeAndUmaskAndIgnoresItsSlashName() throws {
        try withDecoded(Golden.tmpfile) { request, _ in
            expectHeader(request.header, len: 58, opcode: 51, unique: 0x22, nodeid: 0x3a)
            guard case .tmpfile(let flags, let mode, let umask) = request.body else {
                Issue.record("not TMPFILE: \(request.body)"); return
            }
            #expect(flags == 0x41_8002)
            #expect(mode == 0o100640)
            #expect(umask == 0o022)
        }
    }

    @Test func createDecodesFlagsModeUmaskAndName() throws {
        try withDecoded(Golden.create) { request, _ in
            expectHeader(request.header, len: 64, opcode: 35, unique: 0x21, nodeid: 0x39)
            guard case .create(let name, let flags, let mode, let umask) = request.body else {
                Issue.record("not CREATE: \(request.body)"); return
            }
            #expect(name == Array("new.txt".utf8))
            #expect(flags == 0x80c1)
            #expect(mode == 0o100600)
            #expect(umask == 0o077)
        }
    }

    // MARK: Malformed names and lengths

    @Test func lookupWithSlashInNameIsInvalidName() {
        let bytes = message(
            header: fuseInHeader(len: 44, opcode: 1, unique: 0x90, nodeid: 1),
            body: [
                0x61, 0x2f, 0x62, 0x00,                     // name = "a/b\0"
            ])
        #expect(decodeOutcome(bytes) == .failed(.invalidName))
    }

    @Test func lookupWithEmptyNameIsInvalidName() {
        let bytes = message(
            header: fuseInHeader(len: 41, opcode: 1, unique: 0x91, nodeid: 1),
            body: [
                0x00,                                       // name = "\0"
            ])
        #expect(decodeOutcome(bytes) == .failed(.invalidName))
    }

    @Test func lookupWithoutTerminatorIsUnterminated() {
        let bytes = message(
            header: fuseInHeader(len: 43, opcode: 1, unique: 0x92, nodeid: 1),
            body: [
                0x61, 0x62, 0x63,                           // name = "abc" (no NUL)
            ])
        #expect(decodeOutcome(bytes) == .failed(.unterminatedString))
    }

    @Test func headerLengthDisagreeingWithMessageSizeIsRejected() {
        var bytes = Golden.lookup
        bytes.replaceSubrange(0..<4, with: [0x2f, 0x00, 0x00, 0x00])  // len = 47, message is 46
        #expect(decodeOutcome(bytes) == .failed(.headerLengthMismatch(declared: 47, received: 46)))
    }

    @Test func removexattrWithEmptyNameIsInvalidName() {
        let bytes = message(
            header: fuseInHeader(len: 41, opcode: 24, unique: 0x93, nodeid: 1),
            body: [
                0x00,                                       // name = "\0"
            ])
        #expect(decodeOutcome(bytes) == .failed(.invalidName))
    }

    @Test func batchForgetCountBeyondMessageIsTruncated() {
        let bytes = message(
            header: fuseInHeader(len: 64, opcode: 42, unique: 0x94, nodeid: 0),
            body: [
                // struct fuse_batch_forget_in (8 bytes)
                0xff, 0xff, 0xff, 0xff,                         // count = 0xffffffff
                0x00, 0x00, 0x00, 0x00,                         // dummy
                // one struct fuse_forget_one (16 bytes)
                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 1
                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nlookup = 1
            ])
        guard case .failed(.truncated) = decodeOutcome(bytes) else {
            Issue.record("expected .truncated, got \(decodeOutcome(bytes))"); return
        }
    }

    @Test func writeWhoseSizeExceedsPayloadIsTruncated() {
        let bytes = message(
            header: fuseInHeader(len: 82, opcode: 16, unique: 0x95, nodeid: 0x3b),
            body: [
                // struct fuse_write_in (40 bytes)
                0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 9
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 0
                0x00, 0x00, 0x10, 0x00,                         // size = 1 MiB
                0x00, 0x00, 0x00, 0x00,                         // write_flags = 0
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0
                0x02, 0x00, 0x00, 0x00,                         // flags = O_RDWR
                0x00, 0x00, 0x00, 0x00,                         // padding
                0xaa, 0xbb,                                     // data: only 2 bytes
            ])
        #expect(decodeOutcome(bytes) == .failed(.truncated(need: 0x10_0000, have: 2)))
    }
}
