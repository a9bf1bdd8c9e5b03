// The dispatcher end to end over NullFileSystem: INIT negotiation checked byte by byte against
// struct fuse_init_out, the EIO gate before INIT, error replies, and the opcodes that must never
// be answered (FORGET, BATCH_FORGET, INTERRUPT).
import SystemPackage
import Testing

@testable import FUSEWire

struct DispatcherTests {
    // Offsets into an INIT reply: 16-byte fuse_out_header + field offset in fuse_init_out.
    static let initOutFlags = 16 + 12
    static let initOutFlags2 = 16 + 32
    static let initOutMaxStackDepth = 16 + 36

    /// Golden INIT with `fuse_init_in.flags` replaced (bytes 52..<56 of the message).
    static func initRequest(flags: UInt32) -> [UInt8] {
        var bytes = Golden.initialize
        bytes.replaceSubrange(52..<56, with: le32(flags))
        return bytes
    }

    // MARK: Before INIT

    @Test func requestBeforeInitGetsEIO() {
        let harness = DispatchHarness()
        let (outcome, replies) = harness.send(Golden.lookup)
        #expect(outcome == .proceed)
        let expected: [[UInt8]] = [[
            0x10, 0x00, 0x00, 0x00,                         // len = 16
            0xfb, 0xff, 0xff, 0xff,                         // error = -5 (-EIO)
            0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x10
        ]]
        #expect(replies == expected)
        #expect(harness.dispatcher.negotiated == nil)
    }

    /// FORGET has no reply in the protocol, whatever the session state. NOTE: as written today
    /// the dispatcher answers every decodable non-INIT request with EIO before INIT, FORGET
    /// included, so this test documents a dispatcher bug (reported, not papered over).
    @Test func forgetBeforeInitGetsNoReply() {
        let harness = DispatchHarness()
        #expect(harness.send(Golden.forget).replies.isEmpty)
        #expect(harness.send(Golden.batchForget).replies.isEmpty)
    }

    // MARK: INIT

    @Test func initWithRegistrarNegotiatesPassthroughAndReplies64ByteInitOut() {
        let harness = DispatchHarness()
        let (outcome, replies) = harness.send(Golden.initialize)
        #expect(outcome == .proceed)
        let expected: [[UInt8]] = [[
            // struct fuse_out_header
            0x50, 0x00, 0x00, 0x00,                         // len = 80
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x2e (the INIT's)
            // struct fuse_init_out (64 bytes)
            0x07, 0x00, 0x00, 0x00,                         // major = 7
            0x28, 0x00, 0x00, 0x00,                         // minor = 40 (kernel offered 45)
            0x00, 0x00, 0x02, 0x00,                         // max_readahead = 0x20000 (the kernel's)
            0x39, 0xf0, 0xc4, 0x50,                         // flags = ASYNC_READ|ATOMIC_O_TRUNC|EXPORT_SUPPORT|
                                                            //   BIG_WRITES|AUTO_INVAL_DATA|DO_READDIRPLUS|
                                                            //   READDIRPLUS_AUTO|ASYNC_DIO|PARALLEL_DIROPS|
                                                            //   MAX_PAGES|CACHE_SYMLINKS|HANDLE_KILLPRIV_V2|
                                                            //   INIT_EXT (0x50c4f039)
            0x40, 0x00,                                     // max_background = 64
            0x30, 0x00,                                     // congestion_threshold = 48
            0x00, 0x00, 0x10, 0x00,                         // max_write = 1 MiB
            0x01, 0x00, 0x00, 0x00,                         // time_gran = 1
            0x00, 0x01,                                     // max_pages = 256
            0x00, 0x00,                                     // map_alignment = 0
            0x20, 0x00, 0x00, 0x00,                         // flags2 = FUSE_PASSTHROUGH >> 32
            0x01, 0x00, 0x00, 0x00,                         // max_stack_depth = 1
            0x00, 0x00,                                     // request_timeout = 0
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             // unused[0..2]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[3..6]
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unused[7..10]
        ]]
        #expect(replies == expected)
        #expect(harness.dispatcher.negotiated == Negotiated(
            minor: 40, flags: InitFlags(rawValue: 0x20_50c4_f039), maxWrite: 1 << 20, maxReadahead: 0x20000))
    }

    @Test func initWithoutRegistrarOmitsPassthroughAndStackDepth() {
        let harness = DispatchHarness(registrar: nil)
        let replies = harness.send(Golden.initialize).replies
        guard replies.count == 1, replies[0].count == 80 else { Issue.record("replies: \(replies)"); return }
        #expect(readLE32(replies[0], at: Self.initOutFlags) == 0x50c4_f039)
        #expect(readLE32(replies[0], at: Self.initOutFlags2) == 0)
        #expect(readLE32(replies[0], at: Self.initOutMaxStackDepth) == 0)
        #expect(harness.dispatcher.negotiated?.passthrough == false)
    }

    @Test func initWithWritebackCacheRequestsItAndOmitsPassthrough() {
        var configuration = InitConfiguration()
        configuration.writebackCache = true
        let harness = DispatchHarness(configuration: configuration)
        let replies = harness.send(Golden.initialize).replies
        guard replies.count == 1, replies[0].count == 80 else { Issue.record("replies: \(replies)"); return }
        #expect(readLE32(replies[0], at: Self.initOutFlags) == 0x50c5_f039)  // + FUSE_WRITEBACK_CACHE (bit 16)
        #expect(readLE32(replies[0], at: Self.initOutFlags2) == 0)
        #expect(readLE32(replies[0], at: Self.initOutMaxStackDepth) == 0)
    }

    @Test func initWithPosixACLAsksForItAndForTheUmask() {
        var configuration = InitConfiguration()
        configuration.posixACL = true
        let harness = DispatchHarness(configuration: configuration)
        let replies = harness.send(Golden.initialize).replies
        guard replies.count == 1, replies[0].count == 80 else { Issue.record("replies: \(replies)"); return }
        // + FUSE_POSIX_ACL (bit 20), FUSE_DONT_MASK (bit 6) and FUSE_SETXATTR_EXT (bit 29)
        #expect(readLE32(replies[0], at: Self.initOutFlags) == 0x70d4_f079)
        // A kernel that does not offer POSIX_ACL applies the umask itself: DONT_MASK is dropped.
        let withoutACL = DispatchHarness(configuration: configuration)
        let plain = withoutACL.send(Self.initRequest(flags: 0x7fef_fffb)).replies
        #expect(plain.map { readLE32($0, at: Self.initOutFlags) } == [0x50c4_f039])
    }

    @Test func initWithoutInitExtIgnoresPassthroughInFlags2() {
        let harness = DispatchHarness()
        // flags = 0x3ffffffb: the golden offer without FUSE_INIT_EXT (bit 30); flags2 still has bit 5.
        let replies = harness.send(Self.initRequest(flags: 0x3fff_fffb)).replies
        guard replies.count == 1, replies[0].count == 80 else { Issue.record("replies: \(replies)"); return }
        #expect(readLE32(replies[0], at: Self.initOutFlags) == 0x10c4_f039)
        #expect(readLE32(replies[0], at: Self.initOutFlags2) == 0)
        #expect(readLE32(replies[0], at: Self.initOutMaxStackDepth) == 0)
    }

    @Test func initWithIoUringAsksForItOnlyWhenOffered() {
        var configuration = InitConfiguration()
        configuration.ioUring = true
        let offered = DispatchHarness(configuration: configuration)
        var request = Golden.initialize
        request.replaceSubrange(56..<60, with: le32(0x3bd))  // flags2 + FUSE_OVER_IO_URING (bit 41 = flags2 bit 9)
        let replies = offered.send(request).replies
        guard replies.count == 1, replies[0].count == 80 else { Issue.record("replies: \(replies)"); return }
        #expect(readLE32(replies[0], at: Self.initOutFlags2) == 0x220)  // PASSTHROUGH | OVER_IO_URING
        #expect(offered.dispatcher.negotiated?.ioUring == true)
        // The golden offer (a kernel whose enable_uring is off) lacks the bit: not asked for.
        let notOffered = DispatchHarness(configuration: configuration)
        #expect(notOffered.send(Golden.initialize).replies.map { readLE32($0, at: Self.initOutFlags2) } == [0x20])
        #expect(notOffered.dispatcher.negotiated?.ioUring == false)
        // Offered but not configured: not asked for either.
        let unconfigured = DispatchHarness()
        #expect(unconfigured.send(request).replies.map { readLE32($0, at: Self.initOutFlags2) } == [0x20])
    }

    @Test func initWithReaddirplusEveryCallDropsOnlyTheAutoFlag() {
        var configuration = InitConfiguration()
        configuration.readdirplusEveryCall = true
        let harness = DispatchHarness(configuration: configuration)
        let replies = harness.send(Golden.initialize).replies
        guard replies.count == 1, replies[0].count == 80 else { Issue.record("replies: \(replies)"); return }
        // The default reply's flags (0x50c4_f039) without FUSE_READDIRPLUS_AUTO (bit 14);
        // FUSE_DO_READDIRPLUS (bit 13) stays.
        #expect(readLE32(replies[0], at: Self.initOutFlags) == 0x50c4_b039)
    }

    @Test func initWithNewerMajorRepliesMajorAndMinorOnlyAndStaysUninitialized() {
        let harness = DispatchHarness()
        var request = Golden.initialize
        request.replaceSubrange(40..<44, with: [0x08, 0x00, 0x00, 0x00])  // major = 8
        let expected: [[UInt8]] = [[
            0x18, 0x00, 0x00, 0x00,                         // len = 24
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x2e
            0x07, 0x00, 0x00, 0x00,                         // major = 7
            0x28, 0x00, 0x00, 0x00,                         // minor = 40
        ]]
        #expect(harness.send(request).replies == expected)
        #expect(harness.dispatcher.negotiated == nil)
        let afterwards = harness.send(Golden.lookup).replies.compactMap { OutHeader($0) }
        #expect(afterwards == [OutHeader(len: 16, error: -Errno.ioError.rawValue, unique: 0x10)])
    }

    @Test func initWithTooOldMinorIsAnErrorAndStaysUninitialized() {
        let harness = DispatchHarness()
        var request = Golden.initialize
        request.replaceSubrange(44..<48, with: [0x1e, 0x00, 0x00, 0x00])  // minor = 30
        let replies = harness.send(request).replies
        guard replies.count == 1, let header = OutHeader(replies[0]) else { Issue.record("replies: \(replies)"); return }
        #expect(header.len == 16 && replies[0].count == 16)
        #expect(header.error < 0)
        #expect(header.unique == 0x2e)
        #expect(harness.dispatcher.negotiated == nil)
    }

    // MARK: After INIT

    /// A harness whose session went through the golden INIT.
    static func initializedHarness() -> DispatchHarness {
        let harness = DispatchHarness()
        harness.send(Golden.initialize)
        return harness
    }

    @Test func lookupOfMissingNameWithoutEntryCachingRepliesENOENT() {
        var configuration = InitConfiguration()
        configuration.timeouts = CacheTimeouts(entrySeconds: 0, attributeSeconds: 1)
        let harness = DispatchHarness(configuration: configuration)
        harness.send(Golden.initialize)
        let expected: [[UInt8]] = [[
            0x10, 0x00, 0x00, 0x00,                         // len = 16
            0xfe, 0xff, 0xff, 0xff,                         // error = -2 (-ENOENT)
            0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x10
        ]]
        #expect(harness.send(Golden.lookup).replies == expected)
    }

    @Test func lookupOfMissingNameRepliesCacheableNegativeEntry() {
        let harness = Self.initializedHarness()  // default entry timeout: 1 s
        var expected: [UInt8] = [
            0x90, 0x00, 0x00, 0x00,                         // len = 144 (16 header + 128 fuse_entry_out)
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x10
            0, 0, 0, 0, 0, 0, 0, 0,                         // nodeid = 0: negative entry
            0, 0, 0, 0, 0, 0, 0, 0,                         // generation
            0x01, 0, 0, 0, 0, 0, 0, 0,                      // entry_valid = 1 s
            0x01, 0, 0, 0, 0, 0, 0, 0,                      // attr_valid = 1 s
            0, 0, 0, 0,                                     // entry_valid_nsec
            0, 0, 0, 0,                                     // attr_valid_nsec
        ]
        expected += [UInt8](repeating: 0, count: 64)      // fuse_attr: ino, size, blocks, 3 times, 3 nsecs, mode = 0
        expected += [0x01, 0, 0, 0]                         // nlink = 1 (Attributes default)
        expected += [UInt8](repeating: 0, count: 12)      // uid, gid, rdev
        expected += [0x00, 0x10, 0, 0]                      // blksize = 4096 (Attributes default)
        expected += [0, 0, 0, 0]                            // flags
        #expect(harness.send(Golden.lookup).replies == [expected])
    }

    @Test func unknownOpcodeRepliesENOSYS() {
        let harness = Self.initializedHarness()
        let replies = harness.send(Golden.unknownOpcode).replies
        let headers = replies.compactMap { OutHeader($0) }
        #expect(headers == [OutHeader(len: 16, error: -Errno.noFunction.rawValue, unique: 0x37)])
        #expect(replies.map(\.count) == [16])
    }

    @Test func getlkRepliesENOSYS() {
        let harness = Self.initializedHarness()
        let replies = harness.send(Golden.getlk).replies
        let headers = replies.compactMap { OutHeader($0) }
        #expect(headers == [OutHeader(len: 16, error: -Errno.noFunction.rawValue, unique: 0x38)])
        #expect(replies.map(\.count) == [16])
    }

    @Test func forgetBatchForgetAndInterruptGetNoReply() {
        let harness = Self.initializedHarness()
        #expect(harness.send(Golden.forget).replies.isEmpty)
        #expect(harness.send(Golden.batchForget).replies.isEmpty)
        #expect(harness.send(Golden.interrupt).replies.isEmpty)
    }

    @Test func destroyRepliesEmptySuccessAndEndsTheSession() {
        let harness = Self.initializedHarness()
        let (outcome, replies) = harness.send(Golden.destroy)
        #expect(outcome == .destroyed)
        let expected: [[UInt8]] = [[
            0x10, 0x00, 0x00, 0x00,                         // len = 16
            0x00, 0x00, 0x00, 0x00,                         // error = 0
            0x36, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x36
        ]]
        #expect(replies == expected)
    }

    @Test func releaseOnNullFileSystemRepliesEmptySuccess() {
        let harness = Self.initializedHarness()
        let replies = harness.send(Golden.release).replies
        let headers = replies.compactMap { OutHeader($0) }
        #expect(headers == [OutHeader(len: 16, error: 0, unique: 0x25)])
        #expect(replies.map(\.count) == [16])
    }

    // MARK: Malformed requests

    @Test func malformedRequestWithReadableHeaderRepliesEINVAL() {
        let harness = Self.initializedHarness()
        var bytes = Golden.lookup
        bytes.replaceSubrange(0..<4, with: [0x2f, 0x00, 0x00, 0x00])  // len = 47, message is 46
        let expected: [[UInt8]] = [[
            0x10, 0x00, 0x00, 0x00,                         // len = 16
            0xea, 0xff, 0xff, 0xff,                         // error = -22 (-EINVAL)
            0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0x10
        ]]
        #expect(harness.send(bytes).replies == expected)
    }

    @Test func malformedForgetsGetNoReply() {
        let harness = Self.initializedHarness()
        #expect(harness.send(patchingLength(Array(Golden.forget[0..<44]))).replies.isEmpty)
        #expect(harness.send(patchingLength(Array(Golden.batchForget[0..<70]))).replies.isEmpty)
    }

    @Test func unreadableHeaderIsDroppedSilently() {
        let harness = Self.initializedHarness()
        #expect(harness.send(Array(Golden.lookup[0..<39])).replies.isEmpty)
        #expect(harness.send([]).replies.isEmpty)
    }

    // MARK: Every golden request

    @Test(arguments: Golden.all)
    func everyGoldenRequestAfterInitGetsOneWellFormedReplyUnlessItHasNone(_ golden: GoldenRequest) {
        let harness = Self.initializedHarness()
        let (outcome, replies) = harness.send(golden.bytes)
        let opcode = readLE32(golden.bytes, at: 4)
        let unique = readLE64(golden.bytes, at: 8)
        let expectedOutcome: DispatchOutcome = opcode == FUSEOpcode.destroy.rawValue ? .destroyed : .proceed
        #expect(outcome == expectedOutcome)
        let silent: Set<UInt32> = [FUSEOpcode.forget.rawValue, FUSEOpcode.batchForget.rawValue, FUSEOpcode.interrupt.rawValue]
        #expect(replies.count == (silent.contains(opcode) ? 0 : 1))
        for reply in replies {
            guard let header = OutHeader(reply) else { Issue.record("reply shorter than fuse_out_header"); continue }
            #expect(Int(header.len) == reply.count)
            #expect(header.unique == unique)
            #expect(header.error <= 0)
            if header.error != 0 { #expect(reply.count == 16) }
        }
    }
}
