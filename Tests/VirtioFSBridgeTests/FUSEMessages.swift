// FUSE requests spelled out byte by byte (include/uapi/linux/fuse.h), and reply readers, for
// driving the backend the way a guest kernel would.
@testable import VirtioFSBridge

enum FUSEMessage {
    static let rootNode: UInt64 = 1

    /// struct fuse_in_header followed by `body`; `declaredLength` overrides len (for lies).
    static func request(_ opcode: UInt32, node: UInt64, unique: UInt64, body: [UInt8], declaredLength: UInt32? = nil) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.appendLittleEndian(declaredLength ?? UInt32(40 + body.count))
        bytes.appendLittleEndian(opcode)
        bytes.appendLittleEndian(unique)
        bytes.appendLittleEndian(node)
        bytes.appendLittleEndian(UInt32(0))  // uid: root, as a guest's build usually runs
        bytes.appendLittleEndian(UInt32(0))  // gid
        bytes.appendLittleEndian(UInt32(1))  // pid
        bytes.appendLittleEndian(UInt32(0))  // total_extlen, padding
        return bytes + body
    }

    static func initialize(unique: UInt64) -> [UInt8] {
        var body = [UInt8]()
        body.appendLittleEndian(UInt32(7))
        body.appendLittleEndian(UInt32(45))
        body.appendLittleEndian(UInt32(128 << 10))
        body.appendLittleEndian(UInt32(0x3FFF_FFFF))  // everything a 7.45 kernel may offer in flags
        body.appendLittleEndian(UInt32(0))
        body += [UInt8](repeating: 0, count: 44)
        return request(26, node: 0, unique: unique, body: body)
    }

    static func lookup(_ name: String, parent: UInt64 = rootNode, unique: UInt64) -> [UInt8] {
        request(1, node: parent, unique: unique, body: Array(name.utf8) + [0])
    }

    static func forget(node: UInt64, count: UInt64, unique: UInt64) -> [UInt8] {
        var body = [UInt8](); body.appendLittleEndian(count)
        return request(2, node: node, unique: unique, body: body)
    }

    static func open(node: UInt64, flags: UInt32, unique: UInt64) -> [UInt8] {
        var body = [UInt8](); body.appendLittleEndian(flags); body.appendLittleEndian(UInt32(0))
        return request(14, node: node, unique: unique, body: body)
    }

    static func read(node: UInt64, handle: UInt64, offset: UInt64, size: UInt32, unique: UInt64) -> [UInt8] {
        var body = [UInt8]()
        body.appendLittleEndian(handle); body.appendLittleEndian(offset); body.appendLittleEndian(size)
        body.appendLittleEndian(UInt32(0)); body.appendLittleEndian(UInt64(0)); body.appendLittleEndian(UInt32(0x8002))
        body.appendLittleEndian(UInt32(0))
        return request(15, node: node, unique: unique, body: body)
    }

    static func create(_ name: String, parent: UInt64 = rootNode, mode: UInt32 = 0o100644, unique: UInt64) -> [UInt8] {
        var body = [UInt8]()
        body.appendLittleEndian(UInt32(0o1 | 0o100))  // O_WRONLY | O_CREAT
        body.appendLittleEndian(mode); body.appendLittleEndian(UInt32(0o022)); body.appendLittleEndian(UInt32(0))
        return request(35, node: parent, unique: unique, body: body + Array(name.utf8) + [0])
    }

    static func write(node: UInt64, handle: UInt64, offset: UInt64, data: [UInt8], unique: UInt64) -> [UInt8] {
        var body = [UInt8]()
        body.appendLittleEndian(handle); body.appendLittleEndian(offset); body.appendLittleEndian(UInt32(data.count))
        body.appendLittleEndian(UInt32(0)); body.appendLittleEndian(UInt64(0)); body.appendLittleEndian(UInt32(0x8001))
        body.appendLittleEndian(UInt32(0))
        return request(16, node: node, unique: unique, body: body + data)
    }

    static func release(node: UInt64, handle: UInt64, unique: UInt64) -> [UInt8] {
        var body = [UInt8]()
        body.appendLittleEndian(handle); body.appendLittleEndian(UInt32(0)); body.appendLittleEndian(UInt32(0)); body.appendLittleEndian(UInt64(0))
        return request(18, node: node, unique: unique, body: body)
    }
}

/// A reply as the backend wrote it into the writable descriptors.
struct FUSEReply {
    let bytes: [UInt8]
    var length: UInt32 { load(0) }
    var error: Int32 { load(4) }
    var unique: UInt64 { load(8) }
    /// fuse_entry_out.nodeid (LOOKUP/CREATE).
    var entryNode: UInt64 { load(16) }
    /// fuse_entry_out.attr.size.
    var entrySize: UInt64 { load(16 + 40 + 8) }
    /// fuse_open_out.fh: after the header for OPEN, after fuse_entry_out (128 bytes) for CREATE.
    var openHandle: UInt64 { load(16) }
    var createHandle: UInt64 { load(16 + 128) }
    var body: [UInt8] { Array(bytes.dropFirst(16)) }

    func load<T: FixedWidthInteger>(_ offset: Int) -> T {
        bytes.withUnsafeBytes { $0.loadLittleEndian(at: offset) }
    }
}
