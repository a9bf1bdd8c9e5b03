// Reads vhost-user control messages from one connected frontend, lets the device handle them
// and sends replies and acknowledgements. A message that cannot be framed (bad version, absurd
// size, a stream cut short) ends the connection; a message that is framed but wrong fails on
// its own, with a log line and a failure acknowledgement when one was asked for.
import Logging
import ScorpioSys
import SystemPackage

public final class VhostUserConnection {
    let socket: FileDescriptor
    let device: VhostUserDevice
    let logger: Logger
    /// Messages read so far: a connection that ends before its first message was a probe
    /// (someone checking whether the socket is live), not a guest.
    public private(set) var messageCount = 0

    public init(socket: FileDescriptor, device: VhostUserDevice, logger: Logger) {
        self.socket = socket
        self.device = device
        self.logger = logger
    }

    /// Serves messages until the frontend disconnects or breaks the framing; then stops every
    /// queue. Returns why it ended (nil for a clean disconnect).
    @discardableResult
    public func serve() -> VhostUserError? {
        defer { device.reset() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: VhostUserHeader.maximumPayload, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            var descriptors: [FileDescriptor] = []
            defer { for descriptor in descriptors { descriptor.closeQuietly() } }
            let header: VhostUserHeader
            do {
                let got = try readFully(VhostUserHeader.size, into: buffer, descriptors: &descriptors)
                if got == 0 { return nil }
                guard got == VhostUserHeader.size else { throw VhostUserError.invalid("connection closed inside a message") }
                header = VhostUserHeader(UnsafeRawBufferPointer(rebasing: buffer[0..<VhostUserHeader.size]))
                guard header.flags & VhostUserFlags.versionMask == VhostUserFlags.version else { throw VhostUserError.badVersion(header.flags) }
                guard header.size <= UInt32(VhostUserHeader.maximumPayload) else { throw VhostUserError.payloadTooLarge(header.size) }
                guard try readFully(Int(header.size), into: buffer, descriptors: &descriptors) == Int(header.size) else {
                    throw VhostUserError.invalid("connection closed inside a message")
                }
            } catch let error as VhostUserError {
                logger.error("vhost-user connection dropped: \(error)")
                return error
            } catch {
                logger.error("vhost-user connection failed: \(error)")
                return .invalid("\(error)")
            }
            messageCount += 1
            let payload = UnsafeRawBufferPointer(rebasing: buffer[0..<Int(header.size)])
            let response: VhostUserResponse?
            do {
                response = try device.handle(header, payload: payload, descriptors: &descriptors)
            } catch {
                logger.error("vhost-user request \(header.request) failed: \(error)")
                response = nil
            }
            do {
                try reply(to: header, with: response)
            } catch {
                logger.error("vhost-user reply failed; dropping the connection: \(error)")
                return .invalid("reply failed: \(error)")
            }
        }
    }

    /// GET_* requests answer with their payload; others with a u64 status if asked to
    /// (REPLY_ACK). A failed GET_* is answered with an empty payload, which the frontend treats
    /// as an error instead of waiting forever.
    private func reply(to header: VhostUserHeader, with response: VhostUserResponse?) throws(Errno) {
        var payload: [UInt8]
        switch response {
        case .payload(let bytes)?:
            payload = bytes
        case .done?, nil:
            let expectsPayload = [VhostUserRequest.getFeatures, .getProtocolFeatures, .getQueueNum, .getMaxMemSlots, .getVringBase]
                .contains { $0.rawValue == header.request }
            if expectsPayload {
                payload = []
            } else {
                guard header.needsReply && device.replyAckNegotiated else { return }
                payload = []
                payload.appendLittleEndian(UInt64(response == nil ? 1 : 0))
            }
        }
        var message = [UInt8]()
        message.reserveCapacity(VhostUserHeader.size + payload.count)
        message.appendLittleEndian(header.request)
        message.appendLittleEndian(VhostUserFlags.version | VhostUserFlags.reply)
        message.appendLittleEndian(UInt32(payload.count))
        message.append(contentsOf: payload)
        try typedErrno { try message.withUnsafeBytes { bytes in try UnixSocket.send(socket, bytes) } }
    }

    /// Reads `count` bytes into the start of `buffer`, collecting passed descriptors; returns
    /// fewer only when the stream ended.
    private func readFully(_ count: Int, into buffer: UnsafeMutableRawBufferPointer,
                           descriptors: inout [FileDescriptor]) throws(Errno) -> Int {
        var offset = 0
        while offset < count {
            let got = try UnixSocket.receive(socket, into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<count]), descriptors: &descriptors)
            if got == 0 { break }
            offset += got
        }
        return offset
    }
}
