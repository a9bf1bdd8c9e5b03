// Shared helpers for the FUSEWire tests: little-endian byte spelling for the 40-byte
// fuse_in_header, exact-size message buffers, a recording reply sink, a filesystem that knows no
// files, and a deterministic pseudo-random generator for the fuzz loops.
import Logging
import SystemPackage
import Testing

@testable import FUSEWire

// MARK: - Little-endian spelling

/// `value` as 2 little-endian bytes.
func le16(_ value: UInt16) -> [UInt8] {
    [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8)]
}

/// `value` as 4 little-endian bytes.
func le32(_ value: UInt32) -> [UInt8] {
    (0..<4).map { index in UInt8(truncatingIfNeeded: value >> UInt32(8 * index)) }
}

/// `value` as 8 little-endian bytes.
func le64(_ value: UInt64) -> [UInt8] {
    (0..<8).map { index in UInt8(truncatingIfNeeded: value >> UInt64(8 * index)) }
}

/// Reads a little-endian UInt32 at `offset` of `bytes`.
func readLE32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    var value: UInt32 = 0
    for index in 0..<4 {
        value |= UInt32(bytes[offset + index]) << UInt32(8 * index)
    }
    return value
}

/// Reads a little-endian UInt64 at `offset` of `bytes`.
func readLE64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<8 {
        value |= UInt64(bytes[offset + index]) << UInt64(8 * index)
    }
    return value
}

/// Default caller identity used by `fuseInHeader`.
enum Caller {
    static let uid: UInt32 = 1000
    static let gid: UInt32 = 100
    static let pid: UInt32 = 4242
}

/// struct fuse_in_header (40 bytes), include/uapi/linux/fuse.h:
///   u32 len; u32 opcode; u64 unique; u64 nodeid; u32 uid; u32 gid; u32 pid;
///   u16 total_extlen; u16 padding;
func fuseInHeader(len: UInt32, opcode: UInt32, unique: UInt64, nodeid: UInt64,
                  uid: UInt32 = Caller.uid, gid: UInt32 = Caller.gid, pid: UInt32 = Caller.pid) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes += le32(len)       // len
    bytes += le32(opcode)    // opcode
    bytes += le64(unique)    // unique
    bytes += le64(nodeid)    // nodeid
    bytes += le32(uid)       // uid
    bytes += le32(gid)       // gid
    bytes += le32(pid)       // pid
    bytes += le16(0)         // total_extlen
    bytes += le16(0)         // padding
    return bytes
}

/// A whole request: the header followed by the hand-written argument bytes.
func message(header: [UInt8], body: [UInt8]) -> [UInt8] {
    var bytes = header
    bytes.append(contentsOf: body)
    return bytes
}

/// The parts joined in order (annotated fragments of one expected message).
func concat(_ parts: [UInt8]...) -> [UInt8] {
    parts.flatMap { $0 }
}

/// `bytes` with the header's `len` field replaced by `bytes.count` (when the field is present).
func patchingLength(_ bytes: [UInt8]) -> [UInt8] {
    guard bytes.count >= 4 else { return bytes }
    var patched = bytes
    patched.replaceSubrange(0..<4, with: le32(UInt32(bytes.count)))
    return patched
}

// MARK: - Decoding

/// Copies `bytes` into a heap buffer of exactly `bytes.count` bytes, runs `body` on it, and frees
/// it. Request views (WRITE data, SETXATTR values) are valid only inside `body`.
func withMessage<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: bytes)
    return try body(UnsafeRawBufferPointer(buffer))
}

/// What decoding a message did, without keeping views into it.
enum DecodeOutcome: Equatable {
    case decoded(opcode: UInt32)
    case failed(FUSEWireError)
    /// An error that is not a `FUSEWireError` (never expected).
    case failedOther(String)
}

/// Decodes `bytes` and reports success (with the header's opcode) or the wire error.
func decodeOutcome(_ bytes: [UInt8]) -> DecodeOutcome {
    withMessage(bytes) { message in
        do {
            let request = try FUSERequest.decode(message)
            return .decoded(opcode: request.header.opcode)
        } catch let error as FUSEWireError {
            return .failed(error)
        } catch {
            return .failedOther("\(error)")
        }
    }
}

/// Decodes `bytes`, which must succeed, and hands the request and the message buffer to `body`.
func withDecoded(_ bytes: [UInt8], _ body: (FUSERequest, UnsafeRawBufferPointer) throws -> Void) throws {
    try withMessage(bytes) { message in
        let request = try FUSERequest.decode(message)
        try body(request, message)
    }
}

/// Checks every field of a decoded fuse_in_header.
func expectHeader(_ header: InHeader, len: UInt32, opcode: UInt32, unique: UInt64, nodeid: UInt64,
                  uid: UInt32 = Caller.uid, gid: UInt32 = Caller.gid, pid: UInt32 = Caller.pid,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = InHeader(length: len, opcode: opcode, unique: RequestID(rawValue: unique), nodeID: InodeNumber(nodeid),
                            uid: uid, gid: gid, pid: pid, totalExtensionLength: 0)
    #expect(header == expected, sourceLocation: sourceLocation)
}

/// `true` when `view` points into `message` at `offset` with `count` bytes (not a copy).
func isView(_ view: UnsafeRawBufferPointer, of message: UnsafeRawBufferPointer, at offset: Int, count: Int) -> Bool {
    guard view.count == count, let base = message.baseAddress else { return false }
    if count == 0 { return true }
    return view.baseAddress == base + offset
}

// MARK: - Reply buffers and sinks

/// A 64 KiB reply buffer, freed after `body`.
func withReplyBuffer<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
    defer { buffer.deallocate() }
    return try body(buffer)
}

/// Records every reply the dispatcher sends, as a copy.
final class RecordingSink: ReplySink {
    private(set) var replies: [[UInt8]] = []

    func send(_ reply: UnsafeRawBufferPointer) {
        replies.append(Array(reply))
    }

    func reset() { replies.removeAll() }
}

/// The fields of a struct fuse_out_header read back from a reply.
struct OutHeader: Equatable {
    var len: UInt32
    var error: Int32
    var unique: UInt64

    init(len: UInt32, error: Int32, unique: UInt64) {
        self.len = len; self.error = error; self.unique = unique
    }

    init?(_ reply: [UInt8]) {
        guard reply.count >= 16 else { return nil }
        len = readLE32(reply, at: 0)
        error = Int32(bitPattern: readLE32(reply, at: 4))
        unique = readLE64(reply, at: 8)
    }
}

/// A logger that drops everything (the fuzz loops provoke thousands of warnings).
func quietLogger() -> Logger {
    Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
}

// MARK: - Stub filesystem and registrar

/// A filesystem with no files: every lookup-like call fails with ENOENT; releases and forgets do
/// nothing; the optional operations keep their ENOSYS defaults. Not final: CannedFileSystem
/// answers some calls with fixed data (a class, since the dispatcher's type is fixed here).
/// @unchecked Sendable: neither class has stored state, so there is nothing to share unsafely.
class NullFileSystem: FileSystem, @unchecked Sendable {
    func lookup(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno) -> Entry { throw .noSuchFileOrDirectory }
    func forget(_ inode: InodeNumber, count: UInt64) {}
    func getAttributes(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID?) throws(Errno) -> Attributes { throw .noSuchFileOrDirectory }
    func setAttributes(_ ctx: RequestContext, inode: InodeNumber, changes: AttributeChanges) throws(Errno) -> Attributes { throw .noSuchFileOrDirectory }
    func readLink(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) -> [UInt8] { throw .noSuchFileOrDirectory }
    func symlink(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], target: [UInt8]) throws(Errno) -> Entry { throw .noSuchFileOrDirectory }
    func makeNode(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32, device: UInt32) throws(Errno) -> Entry { throw .noSuchFileOrDirectory }
    func makeDirectory(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32) throws(Errno) -> Entry { throw .noSuchFileOrDirectory }
    func unlink(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno) { throw .noSuchFileOrDirectory }
    func removeDirectory(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno) { throw .noSuchFileOrDirectory }
    func rename(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], newParent: InodeNumber, newName: [UInt8], flags: UInt32) throws(Errno) { throw .noSuchFileOrDirectory }
    func link(_ ctx: RequestContext, inode: InodeNumber, newParent: InodeNumber, newName: [UInt8]) throws(Errno) -> Entry { throw .noSuchFileOrDirectory }
    func open(_ ctx: RequestContext, inode: InodeNumber, flags: UInt32) throws(Errno) -> OpenResult { throw .noSuchFileOrDirectory }
    func create(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32, flags: UInt32) throws(Errno) -> (Entry, OpenResult) { throw .noSuchFileOrDirectory }
    func read(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int { throw .noSuchFileOrDirectory }
    func write(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, data: UnsafeRawBufferPointer) throws(Errno) -> Int { throw .noSuchFileOrDirectory }
    func release(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) {}
    func openDirectory(_ ctx: RequestContext, inode: InodeNumber, flags: UInt32) throws(Errno) -> OpenResult { throw .noSuchFileOrDirectory }
    func readDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                       emit: (DirectoryEntry) -> Bool) throws(Errno) { throw .noSuchFileOrDirectory }
    func releaseDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) {}
    func statistics(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) -> StatFS { throw .noSuchFileOrDirectory }
    // Declared here (with the protocol's ENOSYS) so that a subclass's override is the witness.
    func listExtendedAttributes(_ ctx: RequestContext, inode: InodeNumber, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int { throw .noFunction }
    func seek(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, whence: UInt32) throws(Errno) -> UInt64 { throw .noFunction }
}

/// A passthrough registrar that hands out backing id 1 and forgets closes.
struct StubRegistrar: BackingFileRegistrar {
    func open(_ fd: FileDescriptor) throws(Errno) -> BackingID { BackingID(rawValue: 1) }
    func close(_ id: BackingID) {}
}

// MARK: - Deterministic randomness

/// Marsaglia xorshift64: deterministic, seedable, independent of the system generator.
struct XorShift64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// A value in 0..<bound (bound > 0); the modulo bias is irrelevant here.
    mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next() >> 32) }
}

// MARK: - Dispatcher harness

/// A dispatcher over `NullFileSystem` with a 64 KiB reply buffer and a recording sink.
final class DispatchHarness {
    let dispatcher: Dispatcher<NullFileSystem>
    let sink = RecordingSink()
    private let replyBuffer: UnsafeMutableRawBufferPointer

    init(configuration: InitConfiguration = InitConfiguration(),
         registrar: (any BackingFileRegistrar)? = StubRegistrar(), fileSystem: NullFileSystem = NullFileSystem()) {
        dispatcher = Dispatcher(fileSystem: fileSystem, configuration: configuration, registrar: registrar,
                                logger: quietLogger())
        replyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
    }

    deinit { replyBuffer.deallocate() }

    /// Hands one message (in an exactly sized buffer) to the dispatcher; returns what it did and
    /// every reply it sent for this message.
    @discardableResult
    func send(_ bytes: [UInt8]) -> (outcome: DispatchOutcome, replies: [[UInt8]]) {
        sink.reset()
        let outcome = withMessage(bytes) { message in
            dispatcher.handle(message, replyBuffer: replyBuffer, sink: sink)
        }
        return (outcome, sink.replies)
    }
}
