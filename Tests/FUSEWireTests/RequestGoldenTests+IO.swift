// Decodes each hand-written golden request, part 2: file I/O, handles, xattrs, directories,
// INIT, INTERRUPT, FALLOCATE, LSEEK, COPY_FILE_RANGE, DESTROY and unsupported opcodes.
import Testing

@testable import FUSEWire

struct RequestGoldenIOTests {
    // MARK: READ / WRITE

    @Test func readDecodesHandleOffsetAndSize() throws {
        try withDecoded(Golden.read) { request, _ in
            expectHeader(request.header, len: 80, opcode: 15, unique: 0x22, nodeid: 0x3a)
            guard case .read(let handle, let offset, let size) = request.body else { Issue.record("not READ: \(request.body)"); return }
            #expect(handle == FileHandleID(0x7_0000_0005))
            #expect(offset == 0x1_0000_1000)
            #expect(size == 0x20000)
        }
    }

    @Test func writeDecodesFieldsAndPayloadIsAViewOfTheMessage() throws {
        try withDecoded(Golden.write) { request, message in
            expectHeader(request.header, len: 86, opcode: 16, unique: 0x23, nodeid: 0x3b)
            guard case .write(let handle, let offset, let data, let writeFlags, let flags) = request.body else {
                Issue.record("not WRITE: \(request.body)"); return
            }
            #expect(handle == FileHandleID(9))
            #expect(offset == 0x1000)
            #expect(writeFlags == 6)
            #expect(flags == 0x8002)
            #expect(Array(data) == [0xde, 0xad, 0xbe, 0xef, 0x00, 0x01])
            #expect(isView(data, of: message, at: Golden.writePayloadOffset, count: 6), "WRITE data must not be copied")
        }
    }

    // MARK: STATFS / RELEASE / RELEASEDIR / FSYNC / FSYNCDIR / FLUSH

    @Test func statfsHasNoArguments() throws {
        try withDecoded(Golden.statfs) { request, _ in
            expectHeader(request.header, len: 40, opcode: 17, unique: 0x24, nodeid: 1)
            guard case .statfs = request.body else { Issue.record("not STATFS: \(request.body)"); return }
        }
    }

    @Test func releaseDecodesHandleAndOpenFlags() throws {
        try withDecoded(Golden.release) { request, _ in
            expectHeader(request.header, len: 64, opcode: 18, unique: 0x25, nodeid: 0x3c)
            guard case .release(let handle, let flags) = request.body else { Issue.record("not RELEASE: \(request.body)"); return }
            #expect(handle == FileHandleID(0x42))
            #expect(flags == 0x8001)
        }
    }

    @Test func releasedirDecodesHandle() throws {
        try withDecoded(Golden.releasedir) { request, _ in
            expectHeader(request.header, len: 64, opcode: 29, unique: 0x26, nodeid: 0x3d)
            guard case .releasedir(let handle) = request.body else { Issue.record("not RELEASEDIR: \(request.body)"); return }
            #expect(handle == FileHandleID(0x43))
        }
    }

    @Test func fsyncWithDatasyncBitIsDataOnly() throws {
        try withDecoded(Golden.fsync) { request, _ in
            expectHeader(request.header, len: 56, opcode: 20, unique: 0x27, nodeid: 0x3e)
            guard case .fsync(let handle, let dataOnly) = request.body else { Issue.record("not FSYNC: \(request.body)"); return }
            #expect(handle == FileHandleID(0x44))
            #expect(dataOnly == true)
        }
    }

    @Test func fsyncdirWithoutDatasyncBitIsNotDataOnly() throws {
        try withDecoded(Golden.fsyncdir) { request, _ in
            expectHeader(request.header, len: 56, opcode: 30, unique: 0x28, nodeid: 0x3f)
            guard case .fsyncdir(let handle, let dataOnly) = request.body else { Issue.record("not FSYNCDIR: \(request.body)"); return }
            #expect(handle == FileHandleID(0x45))
            #expect(dataOnly == false)
        }
    }

    @Test func flushDecodesHandle() throws {
        try withDecoded(Golden.flush) { request, _ in
            expectHeader(request.header, len: 64, opcode: 25, unique: 0x2d, nodeid: 0x44)
            guard case .flush(let handle) = request.body else { Issue.record("not FLUSH: \(request.body)"); return }
            #expect(handle == FileHandleID(0x46))
        }
    }

    // MARK: Extended attributes

    @Test func setxattrDecodesCompatStructNameAndValueView() throws {
        try withDecoded(Golden.setxattr) { request, message in
            expectHeader(request.header, len: 58, opcode: 21, unique: 0x29, nodeid: 0x40)
            guard case .setxattr(let name, let value, let flags, let killSetGID) = request.body else {
                Issue.record("not SETXATTR: \(request.body)"); return
            }
            #expect(name == Array("user.k".utf8))
            #expect(Array(value) == Array("abc".utf8))
            #expect(flags == 1)  // XATTR_CREATE
            #expect(!killSetGID)
            #expect(isView(value, of: message, at: Golden.setxattrValueOffset, count: 3))
        }
    }

    @Test func setxattrDecodesTheExtendedStructWhenAgreed() throws {
        try withMessage(Golden.setxattrExtended) { message in
            let request = try FUSERequest.decode(message, extendedSetxattr: true)
            expectHeader(request.header, len: 84, opcode: 21, unique: 0x2b, nodeid: 0x42)
            guard case .setxattr(let name, let value, let flags, let killSetGID) = request.body else {
                Issue.record("not SETXATTR: \(request.body)"); return
            }
            #expect(name == Array("system.posix_acl_access".utf8))
            #expect(Array(value) == [2, 0, 0, 0])
            #expect(flags == 0)
            #expect(killSetGID)
        }
    }

    @Test func getxattrDecodesSizeAndName() throws {
        try withDecoded(Golden.getxattr) { request, _ in
            expectHeader(request.header, len: 55, opcode: 22, unique: 0x2a, nodeid: 0x41)
            guard case .getxattr(let name, let size) = request.body else { Issue.record("not GETXATTR: \(request.body)"); return }
            #expect(name == Array("user.k".utf8))
            #expect(size == 0x100)
        }
    }

    @Test func listxattrDecodesSize() throws {
        try withDecoded(Golden.listxattr) { request, _ in
            expectHeader(request.header, len: 48, opcode: 23, unique: 0x2b, nodeid: 0x42)
            guard case .listxattr(let size) = request.body else { Issue.record("not LISTXATTR: \(request.body)"); return }
            #expect(size == 0x1000)
        }
    }

    @Test func removexattrDecodesName() throws {
        try withDecoded(Golden.removexattr) { request, _ in
            expectHeader(request.header, len: 47, opcode: 24, unique: 0x2c, nodeid: 0x43)
            guard case .removexattr(let name) = request.body else { Issue.record("not REMOVEXATTR: \(request.body)"); return }
            #expect(name == Array("user.k".utf8))
        }
    }

    // MARK: INIT

    @Test func initDecodesVersionReadaheadAndFlagsWithFlags2InHighHalf() throws {
        try withDecoded(Golden.initialize) { request, _ in
            expectHeader(request.header, len: 104, opcode: 26, unique: 0x2e, nodeid: 0)
            guard case .initialize(let major, let minor, let readahead, let flags) = request.body else {
                Issue.record("not INIT: \(request.body)"); return
            }
            #expect(major == 7)
            #expect(minor == 45)
            #expect(readahead == 0x20000)
            #expect(flags == 0x0000_01bd_7fff_fffb)
            #expect(InitFlags(rawValue: flags).contains(.passthrough))
            #expect(InitFlags(rawValue: flags).contains(.initExt))
        }
    }

    @Test func initFromPre736KernelWith16ByteStructHasNoFlags2() throws {
        // A 7.31 kernel sends the 16-byte fuse_init_in (no flags2, no unused[]).
        let bytes = message(
            header: fuseInHeader(len: 56, opcode: 26, unique: 0x2, nodeid: 0),
            body: [
                // struct fuse_init_in, 7.31 (16 bytes)
                0x07, 0x00, 0x00, 0x00,                     // major = 7
                0x1f, 0x00, 0x00, 0x00,                     // minor = 31
                0x00, 0x00, 0x02, 0x00,                     // max_readahead = 0x20000
                0x39, 0xf0, 0xc4, 0x00,                     // flags = 0x00c4f039 (no INIT_EXT)
            ])
        try withDecoded(bytes) { request, _ in
            guard case .initialize(let major, let minor, let readahead, let flags) = request.body else {
                Issue.record("not INIT: \(request.body)"); return
            }
            #expect(major == 7)
            #expect(minor == 31)
            #expect(readahead == 0x20000)
            #expect(flags == 0x00c4_f039)
        }
    }

    // MARK: OPENDIR / READDIR / READDIRPLUS / ACCESS

    @Test func opendirDecodesFlags() throws {
        try withDecoded(Golden.opendir) { request, _ in
            expectHeader(request.header, len: 48, opcode: 27, unique: 0x2f, nodeid: 0x45)
            guard case .opendir(let flags) = request.body else { Issue.record("not OPENDIR: \(request.body)"); return }
            #expect(flags == 0x18000)
        }
    }

    @Test func readdirDecodesHandleCookieSizeAndIsNotPlus() throws {
        try withDecoded(Golden.readdir) { request, _ in
            expectHeader(request.header, len: 80, opcode: 28, unique: 0x30, nodeid: 0x46)
            guard case .readdir(let handle, let offset, let size, let plus) = request.body else {
                Issue.record("not READDIR: \(request.body)"); return
            }
            #expect(handle == FileHandleID(0x47))
            #expect(offset == 3)
            #expect(size == 0x1000)
            #expect(plus == false)
        }
    }

    @Test func readdirplusDecodesHandleCookieSizeAndIsPlus() throws {
        try withDecoded(Golden.readdirplus) { request, _ in
            expectHeader(request.header, len: 80, opcode: 44, unique: 0x31, nodeid: 0x47)
            guard case .readdir(let handle, let offset, let size, let plus) = request.body else {
                Issue.record("not READDIRPLUS: \(request.body)"); return
            }
            #expect(handle == FileHandleID(0x48))
            #expect(offset == 0x1_0000_0000)
            #expect(size == 0x1000)
            #expect(plus == true)
        }
    }

    @Test func accessDecodesMask() throws {
        try withDecoded(Golden.access) { request, _ in
            expectHeader(request.header, len: 48, opcode: 34, unique: 0x32, nodeid: 0x48)
            guard case .access(let mask) = request.body else { Issue.record("not ACCESS: \(request.body)"); return }
            #expect(mask == 5)
        }
    }

    // MARK: INTERRUPT / FALLOCATE / LSEEK / COPY_FILE_RANGE / DESTROY

    @Test func interruptDecodesTargetUnique() throws {
        try withDecoded(Golden.interrupt) { request, _ in
            expectHeader(request.header, len: 48, opcode: 36, unique: 0x2469, nodeid: 0)
            guard case .interrupt(let target) = request.body else { Issue.record("not INTERRUPT: \(request.body)"); return }
            #expect(target == RequestID(rawValue: 0x2468))
        }
    }

    @Test func fallocateDecodesHandleOffsetLengthAndMode() throws {
        try withDecoded(Golden.fallocate) { request, _ in
            expectHeader(request.header, len: 72, opcode: 43, unique: 0x33, nodeid: 0x49)
            guard case .fallocate(let handle, let offset, let length, let mode) = request.body else {
                Issue.record("not FALLOCATE: \(request.body)"); return
            }
            #expect(handle == FileHandleID(0x49))
            #expect(offset == 0x10000)
            #expect(length == 0x1_0000_0000)
            #expect(mode == 3)
        }
    }

    @Test func lseekDecodesHandleOffsetAndWhence() throws {
        try withDecoded(Golden.lseek) { request, _ in
            expectHeader(request.header, len: 64, opcode: 46, unique: 0x34, nodeid: 0x4a)
            guard case .lseek(let handle, let offset, let whence) = request.body else { Issue.record("not LSEEK: \(request.body)"); return }
            #expect(handle == FileHandleID(0x4a))
            #expect(offset == 0x2000)
            #expect(whence == 3)  // SEEK_DATA
        }
    }

    @Test func copyFileRangeDecodesAllSevenFieldsInOrder() throws {
        try withDecoded(Golden.copyFileRange) { request, _ in
            expectHeader(request.header, len: 96, opcode: 47, unique: 0x35, nodeid: 0x4b)
            guard case .copyFileRange(let range) = request.body else { Issue.record("not COPY_FILE_RANGE: \(request.body)"); return }
            #expect(range == RequestBody.CopyFileRange(
                inputHandle: FileHandleID(0x4b), inputOffset: 0x100, outputNode: InodeNumber(0x4c),
                outputHandle: FileHandleID(0x4d), outputOffset: 0x200, length: 0x1_0000_0000, flags: 0))
        }
    }

    @Test func destroyHasNoArguments() throws {
        try withDecoded(Golden.destroy) { request, _ in
            expectHeader(request.header, len: 40, opcode: 38, unique: 0x36, nodeid: 0)
            guard case .destroy = request.body else { Issue.record("not DESTROY: \(request.body)"); return }
        }
    }

    // MARK: Unsupported

    @Test func unknownOpcodeIsUnsupported() throws {
        try withDecoded(Golden.unknownOpcode) { request, _ in
            expectHeader(request.header, len: 40, opcode: 9999, unique: 0x37, nodeid: 1)
            guard case .unsupported(let opcode) = request.body else { Issue.record("not unsupported: \(request.body)"); return }
            #expect(opcode == 9999)
        }
    }

    @Test func getlkIsUnsupported() throws {
        try withDecoded(Golden.getlk) { request, _ in
            expectHeader(request.header, len: 88, opcode: 31, unique: 0x38, nodeid: 0x4e)
            guard case .unsupported(let opcode) = request.body else { Issue.record("not unsupported: \(request.body)"); return }
            #expect(opcode == 31)
        }
    }

    // MARK: Every golden decodes

    @Test(arguments: Golden.all)
    func everyGoldenRequestDecodesWithItsOwnOpcode(_ golden: GoldenRequest) {
        let opcode = readLE32(golden.bytes, at: 4)
        #expect(decodeOutcome(golden.bytes) == .decoded(opcode: opcode))
        #expect(Int(readLE32(golden.bytes, at: 0)) == golden.bytes.count)
    }
}
