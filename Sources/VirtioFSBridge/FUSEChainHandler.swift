// FUSE over a virtqueue (virtio-fs): the device-readable buffers hold one request (in header,
// arguments, WRITE data), the device-writable ones receive the reply. Requests go through the
// same Dispatcher as /dev/fuse; only gathering and scattering the bytes is specific to virtio.
import FUSEWire
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

/// Handles the requests of one queue with its own request and reply buffers.
public final class FUSEChainHandler<FS: FileSystem>: ChainHandler {
    let dispatcher: Dispatcher<FS>
    let request: UnsafeMutableRawBufferPointer
    let reply: UnsafeMutableRawBufferPointer
    let sink: ChainReplySink
    let logger: Logger

    public init(dispatcher: Dispatcher<FS>, logger: Logger) {
        self.dispatcher = dispatcher
        self.logger = logger
        let size = dispatcher.requiredRequestBufferSize
        request = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        reply = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        sink = ChainReplySink(logger: logger)
    }

    deinit {
        request.deallocate()
        reply.deallocate()
    }

    public func handle(_ chain: DescriptorChain) -> UInt32 {
        guard chain.readableBytes <= request.count else {
            logger.error("fuse request of \(chain.readableBytes) bytes exceeds the \(request.count)-byte limit; dropped")
            return 0
        }
        var offset = 0
        for segment in chain.readable {
            (request.baseAddress! + offset).copyMemory(from: segment.pointer, byteCount: segment.length)
            offset += segment.length
        }
        sink.prepare(chain)
        // DESTROY ends nothing here: the guest may mount again on the same connection.
        _ = dispatcher.handle(UnsafeRawBufferPointer(rebasing: request[0..<offset]), replyBuffer: reply, sink: sink)
        return UInt32(sink.written)
    }
}
