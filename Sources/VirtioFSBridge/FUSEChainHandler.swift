// FUSE over a virtqueue (virtio-fs): the device-readable buffers hold one request (in header,
// arguments, WRITE data), the device-writable ones receive the reply. Requests go through the
// same Dispatcher as /dev/fuse; only gathering and scattering the bytes is specific to virtio.
import FUSEWire
import Glibc
import Logging

/// Copies a finished reply into the chain's writable buffers.
final class ChainReplySink: ReplySink {
    private var segments: [GuestSegment] = []
    private var capacity = 0
    private(set) var written = 0
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
        segments.reserveCapacity(300)
    }

    func prepare(_ chain: DescriptorChain) {
        segments.removeAll(keepingCapacity: true)
        segments.append(contentsOf: chain.writable)
        capacity = chain.writableBytes
        written = 0
    }

    func send(_ reply: UnsafeRawBufferPointer) {
        guard reply.count <= capacity else {
            // The guest gave too little room: a truncated reply would be misread, so send only
            // an error header if that fits (the guest's request then fails with EIO).
            logger.error("fuse reply of \(reply.count) bytes does not fit the guest's \(capacity)-byte buffers")
            written = 0
            guard reply.count >= ReplyWriter.headerSize, capacity >= ReplyWriter.headerSize else { return }
            var header = [UInt8](repeating: 0, count: ReplyWriter.headerSize)
            header.withUnsafeMutableBytes { bytes in
                bytes.storeBytes(of: UInt32(ReplyWriter.headerSize).littleEndian, toByteOffset: 0, as: UInt32.self)
                bytes.storeBytes(of: Int32(-5).littleEndian, toByteOffset: 4, as: Int32.self)  // -EIO
                UnsafeMutableRawBufferPointer(rebasing: bytes[8..<16]).copyMemory(from: UnsafeRawBufferPointer(rebasing: reply[8..<16]))
            }
            header.withUnsafeBytes { copyIn($0) }
            return
        }
        copyIn(reply)
    }

    /// A READ reply header whose data was already placed after it in the writable buffers.
    func send(_ reply: UnsafeRawBufferPointer, followedBy externalBytes: Int) {
        copyIn(reply)
        written += externalBytes
    }

    private func copyIn(_ reply: UnsafeRawBufferPointer) {
        var offset = 0
        for segment in segments where offset < reply.count {
            let piece = min(segment.length, reply.count - offset)
            segment.pointer.copyMemory(from: reply.baseAddress! + offset, byteCount: piece)
            offset += piece
        }
        written = offset
    }
}

/// Handles the requests of one queue with its own request and reply buffers. READ data goes
/// from the file straight into the guest's writable buffers and WRITE data straight from its
/// readable ones (preadv/pwritev on guest memory); everything else is gathered into the request
/// buffer and the reply scattered back, which costs one copy of a few hundred bytes.
public final class FUSEChainHandler<FS: FileSystem>: ChainHandler {
    /// fuse_in_header + fuse_read_in, and fuse_in_header + fuse_write_in: both 80 bytes.
    static var dataRequestPrefix: Int { 80 }
    static var vectorCapacity: Int { 1024 }

    let dispatcher: Dispatcher<FS>
    let request: UnsafeMutableRawBufferPointer
    let reply: UnsafeMutableRawBufferPointer
    let vectors: UnsafeMutableBufferPointer<iovec>
    let sink: ChainReplySink
    let logger: Logger

    public init(dispatcher: Dispatcher<FS>, logger: Logger) {
        self.dispatcher = dispatcher
        self.logger = logger
        let size = dispatcher.requiredRequestBufferSize
        request = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        reply = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: Self.vectorCapacity)
        sink = ChainReplySink(logger: logger)
    }

    deinit {
        request.deallocate()
        reply.deallocate()
        vectors.deallocate()
    }

    public func handle(_ chain: DescriptorChain) -> UInt32 {
        guard chain.readableBytes <= request.count else {
            logger.error("fuse request of \(chain.readableBytes) bytes exceeds the \(request.count)-byte limit; dropped")
            return 0
        }
        sink.prepare(chain)
        let prefix = Self.dataRequestPrefix
        let opcode: UInt32 = chain.readableBytes >= 8 ? gather(chain.readable, count: min(chain.readableBytes, prefix)).loadLittleEndian(at: 4) : 0
        var scattered: ScatteredData?
        var messageLength = chain.readableBytes
        if opcode == FUSEOpcode.write.rawValue, chain.readableBytes > prefix,
           let count = vectorize(chain.readable, skipping: prefix, limit: chain.readableBytes - prefix) {
            scattered = .writeSource(IOVectors(UnsafeBufferPointer(rebasing: vectors[0..<count]), byteCount: chain.readableBytes - prefix))
            messageLength = prefix
        } else if opcode == FUSEOpcode.read.rawValue, chain.readableBytes == prefix {
            let size = Int(UnsafeRawBufferPointer(request).loadLittleEndian(at: 56) as UInt32)  // fuse_read_in.size
            if size > 0, chain.writableBytes >= ReplyWriter.headerSize + size,
               let count = vectorize(chain.writable, skipping: ReplyWriter.headerSize, limit: size) {
                scattered = .readDestination(IOVectors(UnsafeBufferPointer(rebasing: vectors[0..<count]), byteCount: size))
            }
        } else {
            _ = gather(chain.readable, count: chain.readableBytes)
        }
        // DESTROY ends nothing here: the guest may mount again on the same connection.
        _ = dispatcher.handle(UnsafeRawBufferPointer(rebasing: request[0..<messageLength]), scattered: scattered,
                              replyBuffer: reply, sink: sink)
        return UInt32(sink.written)
    }

    /// Copies the first `count` readable bytes into the request buffer.
    private func gather(_ segments: [GuestSegment], count: Int) -> UnsafeRawBufferPointer {
        var offset = 0
        for segment in segments where offset < count {
            let piece = min(segment.length, count - offset)
            (request.baseAddress! + offset).copyMemory(from: segment.pointer, byteCount: piece)
            offset += piece
        }
        return UnsafeRawBufferPointer(rebasing: request[0..<offset])
    }

    /// Fills `vectors` with `limit` bytes of `segments` after the first `skipping`; nil when
    /// they need more vectors than we keep (the request then takes the copying path).
    private func vectorize(_ segments: [GuestSegment], skipping: Int, limit: Int) -> Int? {
        var toSkip = skipping
        var left = limit
        var count = 0
        for segment in segments where left > 0 {
            if toSkip >= segment.length {
                toSkip -= segment.length
                continue
            }
            guard count < vectors.count else { return nil }
            let length = min(segment.length - toSkip, left)
            vectors[count] = iovec(iov_base: segment.pointer + toSkip, iov_len: length)
            count += 1
            left -= length
            toSkip = 0
        }
        return left == 0 ? count : nil
    }
}
