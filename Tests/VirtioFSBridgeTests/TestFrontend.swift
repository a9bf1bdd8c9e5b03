// A test-only vhost-user frontend: what QEMU does, without QEMU. It owns a memfd as "guest
// memory", lays out split virtqueues in it, talks to a VhostUserConnection over a socketpair
// (passing the memfd and eventfds with SCM_RIGHTS), and places FUSE requests in the rings.
import FUSEWire
import Foundation
import Glibc
import Logging
import Overlay
import ScorpioSys
import Synchronization
import SystemPackage
import Testing

@testable import VirtioFSBridge

let testLogger: Logger = {
    var logger = Logger(label: "test.virtiofs")
    logger.logLevel = .critical
    return logger
}()

struct FrontendFailure: Error, CustomStringConvertible {
    let description: String
}

/// Where things are in the fake guest.
enum GuestLayout {
    static let memorySize = 8 << 20
    /// Guest physical address of the memfd's first byte.
    static let guestBase: UInt64 = 0x4000_0000
    /// QEMU's (pretend) virtual address of the same byte: ring addresses use these.
    static let userBase: UInt64 = 0x7f12_0000_0000
    static let queueSize: UInt16 = 64
    static func descriptorTable(_ queue: Int) -> Int { 0x1000 + queue * 0x4000 }
    static func availableRing(_ queue: Int) -> Int { descriptorTable(queue) + 0x1000 }
    static func usedRing(_ queue: Int) -> Int { descriptorTable(queue) + 0x2000 }
    static let dataArea = 0x10_0000
}

/// A descriptor as the test wants to place it.
struct TestDescriptor {
    var offset: Int  // into guest memory; GPA = guestBase + offset unless `address` overrides
    var length: Int
    var writable: Bool
    var address: UInt64? = nil
    var indirect = false
}

final class TestFrontend {
    let socket: FileDescriptor
    let memoryFile: FileDescriptor
    let memory: UnsafeMutableRawPointer
    let queueCount: Int
    var kicks: [FileDescriptor] = []
    var calls: [FileDescriptor] = []
    var nextAvailable: [UInt16]
    var lastUsed: [UInt16]
    var dataCursor = GuestLayout.dataArea
    let thread: KernelThread
    let outcome = ConnectionOutcome()
    var unique: UInt64 = 1

    init<FS: FileSystem>(queueCount: Int = 2, fileSystem: FS) throws {
        let (frontendEnd, backendEnd) = try UnixSocket.pair()
        socket = frontendEnd
        self.queueCount = queueCount
        nextAvailable = Array(repeating: 0, count: queueCount)
        lastUsed = Array(repeating: 0, count: queueCount)
        memoryFile = try MemoryMapping.sharedMemoryFile(name: "scorpio-test-guest", size: GuestLayout.memorySize)
        memory = try MemoryMapping.mapShared(memoryFile, length: GuestLayout.memorySize).base
        let dispatcher = Dispatcher(fileSystem: fileSystem, configuration: InitConfiguration(), registrar: nil, logger: testLogger)
        let outcome = self.outcome
        thread = try KernelThread.start {
            let device = VhostUserDevice(queueCount: queueCount, logger: testLogger) {
                FUSEChainHandler(dispatcher: dispatcher, logger: testLogger)
            }
            let result = VhostUserConnection(socket: backendEnd, device: device, logger: testLogger).serve()
            outcome.value.withLock { $0 = .some(result) }
            backendEnd.closeQuietly()
        }
    }

    /// Disconnects and waits for the backend to finish; returns how the connection ended.
    @discardableResult
    func close() -> VhostUserError? {
        UnixSocket.shutdown(socket)
        thread.join()
        socket.closeQuietly()
        for fd in kicks + calls { fd.closeQuietly() }
        munmap(memory, GuestLayout.memorySize)
        memoryFile.closeQuietly()
        return outcome.value.withLock { $0 } ?? nil
    }

    /// The connection's result once the backend ended it by itself (waits up to 5 s).
    func waitForBackendToEnd() -> VhostUserError?? {
        for _ in 0..<500 {
            if let result = outcome.value.withLock({ $0 }) { return .some(result) }
            usleep(10_000)
        }
        return .none
    }

    // MARK: - Control messages

    func send(_ request: UInt32, flags: UInt32 = VhostUserFlags.version, payload: [UInt8] = [], descriptors: [FileDescriptor] = []) throws {
        var message = [UInt8]()
        message.appendLittleEndian(request)
        message.appendLittleEndian(flags)
        message.appendLittleEndian(UInt32(payload.count))
        message += payload
        try message.withUnsafeBytes { try UnixSocket.send(socket, $0, descriptors: descriptors) }
    }

    /// Reads one reply (5 s timeout).
    func receive() throws -> (header: VhostUserHeader, payload: [UInt8]) {
        var poller = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 5000) == 1 else { throw FrontendFailure(description: "no reply within 5 s") }
        var header = [UInt8](repeating: 0, count: VhostUserHeader.size)
        try readExactly(&header)
        let decoded = header.withUnsafeBytes { VhostUserHeader($0) }
        var payload = [UInt8](repeating: 0, count: Int(decoded.size))
        try readExactly(&payload)
        return (decoded, payload)
    }

    private func readExactly(_ bytes: inout [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(socket.rawValue, $0.baseAddress! + offset, $0.count - offset) }
            guard got > 0 else { throw FrontendFailure(description: "connection closed") }
            offset += got
        }
    }

    /// Reads and drops whatever replies arrive within 200 ms.
    func discardPendingReplies() {
        var poller = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
        var sink = [UInt8](repeating: 0, count: 4096)
        while poll(&poller, 1, 200) == 1 {
            let got = sink.withUnsafeMutableBytes { Glibc.read(socket.rawValue, $0.baseAddress, $0.count) }
            if got <= 0 { return }
        }
    }

    /// Sends a GET_* request and returns its payload.
    func get(_ request: VhostUserRequest, payload: [UInt8] = []) throws -> [UInt8] {
        try send(request.rawValue, payload: payload)
        let reply = try receive()
        #expect(reply.header.request == request.rawValue)
        #expect(reply.header.flags & VhostUserFlags.reply != 0)
        return reply.payload
    }

    /// Sends a request with NEED_REPLY and returns the acknowledgement (0 = success).
    @discardableResult
    func acked(_ request: UInt32, payload: [UInt8] = [], descriptors: [FileDescriptor] = []) throws -> UInt64 {
        try send(request, flags: VhostUserFlags.version | VhostUserFlags.needReply, payload: payload, descriptors: descriptors)
        let reply = try receive()
        guard reply.payload.count == 8 else { throw FrontendFailure(description: "ack of \(reply.payload.count) bytes") }
        return reply.payload.withUnsafeBytes { $0.loadLittleEndian(at: 0) }
    }

    func u64(_ value: UInt64) -> [UInt8] { var b = [UInt8](); b.appendLittleEndian(value); return b }
    func state(_ index: Int, _ number: UInt32) -> [UInt8] {
        var b = [UInt8](); b.appendLittleEndian(UInt32(index)); b.appendLittleEndian(number); return b
    }

    func vringAddresses(_ queue: Int, descriptorTable: UInt64? = nil) -> [UInt8] {
        var b = [UInt8]()
        b.appendLittleEndian(UInt32(queue))
        b.appendLittleEndian(UInt32(0))
        b.appendLittleEndian(descriptorTable ?? GuestLayout.userBase + UInt64(GuestLayout.descriptorTable(queue)))
        b.appendLittleEndian(GuestLayout.userBase + UInt64(GuestLayout.usedRing(queue)))
        b.appendLittleEndian(GuestLayout.userBase + UInt64(GuestLayout.availableRing(queue)))
        b.appendLittleEndian(UInt64(0))
        return b
    }

    /// The conversation QEMU 7.2 holds before a guest uses the device (FACTS.md), with
    /// SET_MEM_TABLE. Every acknowledgement must be 0.
    func negotiate(eventIndex: Bool = false, indirect: Bool = true, memorySlots: Bool = false) throws {
        let offered: UInt64 = try get(.getFeatures).withUnsafeBytes { $0.loadLittleEndian(at: 0) }
        #expect(offered & VirtioFeature.version1 != 0)
        #expect(offered & VirtioFeature.protocolFeatures != 0)
        let protocolFeatures: UInt64 = try get(.getProtocolFeatures).withUnsafeBytes { $0.loadLittleEndian(at: 0) }
        #expect(protocolFeatures & VhostProtocolFeature.replyAck != 0)
        try send(VhostUserRequest.setProtocolFeatures.rawValue, payload: u64(VhostProtocolFeature.replyAck | VhostProtocolFeature.multiQueue))
        let queues: UInt64 = try get(.getQueueNum).withUnsafeBytes { $0.loadLittleEndian(at: 0) }
        #expect(queues == UInt64(queueCount))
        try expectAck(VhostUserRequest.setOwner.rawValue)
        var features = VirtioFeature.version1 | VirtioFeature.protocolFeatures
        if eventIndex { features |= VirtioFeature.eventIndex }
        if indirect { features |= VirtioFeature.indirectDescriptors }
        try expectAck(VhostUserRequest.setFeatures.rawValue, payload: u64(features))
        let region = MemoryRegionDescription(guestPhysicalAddress: GuestLayout.guestBase, size: UInt64(GuestLayout.memorySize),
                                             userAddress: GuestLayout.userBase, mmapOffset: 0)
        if memorySlots {
            // CONFIGURE_MEM_SLOTS, as QEMU does with it: the region comes with ADD_MEM_REG.
            try send(VhostUserRequest.setProtocolFeatures.rawValue,
                     payload: u64(VhostProtocolFeature.replyAck | VhostProtocolFeature.multiQueue | VhostProtocolFeature.configureMemorySlots))
            let slots: UInt64 = try get(.getMaxMemSlots).withUnsafeBytes { $0.loadLittleEndian(at: 0) }
            #expect(slots >= 8)
            try expectAck(VhostUserRequest.addMemReg.rawValue, payload: singleRegion(region), descriptors: [memoryFile])
        } else {
            var table = [UInt8]()
            table.appendLittleEndian(UInt32(1))
            table.appendLittleEndian(UInt32(0))
            region.encode(into: &table)
            try expectAck(VhostUserRequest.setMemTable.rawValue, payload: table, descriptors: [memoryFile])
        }
        for queue in 0..<queueCount {
            try expectAck(VhostUserRequest.setVringNum.rawValue, payload: state(queue, UInt32(GuestLayout.queueSize)))
            try expectAck(VhostUserRequest.setVringBase.rawValue, payload: state(queue, 0))
            try expectAck(VhostUserRequest.setVringAddr.rawValue, payload: vringAddresses(queue))
            let kick = try EventCounter.create(), call = try EventCounter.create()
            kicks.append(kick)
            calls.append(call)
            try expectAck(VhostUserRequest.setVringKick.rawValue, payload: u64(UInt64(queue)), descriptors: [kick])
            try expectAck(VhostUserRequest.setVringCall.rawValue, payload: u64(UInt64(queue)), descriptors: [call])
            try expectAck(VhostUserRequest.setVringEnable.rawValue, payload: state(queue, 1))
        }
    }

    /// ADD_MEM_REG / REM_MEM_REG payload: 8 bytes of padding, then one region.
    func singleRegion(_ region: MemoryRegionDescription) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 8)
        region.encode(into: &bytes)
        return bytes
    }

    func expectAck(_ request: UInt32, payload: [UInt8] = [], descriptors: [FileDescriptor] = []) throws {
        let status = try acked(request, payload: payload, descriptors: descriptors)
        #expect(status == 0, "request \(request) was refused")
    }

    // MARK: - Guest memory and rings

    func write(_ bytes: [UInt8], at offset: Int) {
        bytes.withUnsafeBytes { (memory + offset).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    func read(_ count: Int, at offset: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: memory + offset, count: count))
    }

    /// Room for `count` bytes in the data area.
    func allocate(_ count: Int) -> Int {
        let offset = dataCursor
        dataCursor += (count + 63) & ~63
        precondition(dataCursor < GuestLayout.memorySize, "test data area exhausted")
        return offset
    }

    /// Writes descriptor `index` of a table at `table`.
    func putDescriptor(table: Int, index: Int, _ descriptor: TestDescriptor, next: Int?) {
        var bytes = [UInt8]()
        bytes.appendLittleEndian(descriptor.address ?? GuestLayout.guestBase + UInt64(descriptor.offset))
        bytes.appendLittleEndian(UInt32(descriptor.length))
        var flags: UInt16 = descriptor.writable ? 2 : 0
        if next != nil { flags |= 1 }
        if descriptor.indirect { flags |= 4 }
        bytes.appendLittleEndian(flags)
        bytes.appendLittleEndian(UInt16(next ?? 0))
        write(bytes, at: table + 16 * index)
    }

    /// Places a chain starting at descriptor `head` (the chain uses head, head+1, ...) and
    /// makes it available; `links` overrides next pointers (for loops). Kicks the queue.
    func submit(queue: Int, head: Int = 0, _ descriptors: [TestDescriptor], links: [Int: Int] = [:]) {
        let table = GuestLayout.descriptorTable(queue)
        for (position, descriptor) in descriptors.enumerated() {
            let index = head + position
            let next = links[index] ?? (position + 1 < descriptors.count ? index + 1 : nil)
            putDescriptor(table: table, index: index, descriptor, next: next)
        }
        makeAvailable(queue: queue, head: head)
    }

    func makeAvailable(queue: Int, head: Int) {
        let ring = GuestLayout.availableRing(queue)
        let slot = Int(nextAvailable[queue] % GuestLayout.queueSize)
        var entry = [UInt8](); entry.appendLittleEndian(UInt16(head))
        write(entry, at: ring + 4 + 2 * slot)
        nextAvailable[queue] &+= 1
        SharedMemoryOrder.storeRelease(memory + ring + 2, nextAvailable[queue])
        EventCounter.signal(kicks[queue])
    }

    /// The used ring's index as the backend published it.
    func usedIndex(_ queue: Int) -> UInt16 {
        SharedMemoryOrder.loadAcquire(memory + GuestLayout.usedRing(queue) + 2)
    }

    /// Waits until the backend returned the next chain of `queue`; returns (head, bytes written).
    func waitForUsed(queue: Int, timeoutMilliseconds: Int = 5000) throws -> (head: UInt32, written: UInt32) {
        for _ in 0..<(timeoutMilliseconds / 2) {
            if usedIndex(queue) != lastUsed[queue] {
                let slot = Int(lastUsed[queue] % GuestLayout.queueSize)
                let entry = read(8, at: GuestLayout.usedRing(queue) + 4 + 8 * slot)
                lastUsed[queue] &+= 1
                return entry.withUnsafeBytes { ($0.loadLittleEndian(at: 0), $0.loadLittleEndian(at: 4)) }
            }
            usleep(2000)
        }
        throw FrontendFailure(description: "queue \(queue): no used entry within \(timeoutMilliseconds) ms")
    }

    /// Whether the backend signalled the call eventfd of `queue` (consumes the signal).
    func interrupted(_ queue: Int, waitMilliseconds: Int32 = 1000) -> Bool {
        var poller = pollfd(fd: calls[queue].rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, waitMilliseconds) == 1 else { return false }
        EventCounter.drain(calls[queue])
        return true
    }

    // MARK: - FUSE

    /// Sends one FUSE request, split into `pieces` readable descriptors, with `replySize` bytes
    /// of writable room in two descriptors; returns the reply bytes the backend wrote.
    func fuse(_ request: [UInt8], queue: Int = 1, pieces: Int = 1, replySize: Int = 4096, replyPieces: Int = 1, indirect: Bool = false) throws -> [UInt8] {
        dataCursor = GuestLayout.dataArea
        var descriptors: [TestDescriptor] = []
        let requestOffset = allocate(request.count)
        write(request, at: requestOffset)
        let pieceSize = (request.count + pieces - 1) / pieces
        var start = 0
        while start < request.count {
            let length = min(pieceSize, request.count - start)
            descriptors.append(TestDescriptor(offset: requestOffset + start, length: length, writable: false))
            start += length
        }
        let replyOffset = allocate(replySize)
        write([UInt8](repeating: 0xEE, count: replySize), at: replyOffset)
        let firstPart = min(ReplyWriter.headerSize, replySize)
        descriptors.append(TestDescriptor(offset: replyOffset, length: firstPart, writable: true))
        // The rest in `replyPieces` descriptors, as a guest's page list would be.
        let rest = replySize - firstPart
        let restPiece = (rest + replyPieces - 1) / max(1, replyPieces)
        var restStart = 0
        while restStart < rest {
            let length = min(restPiece, rest - restStart)
            descriptors.append(TestDescriptor(offset: replyOffset + firstPart + restStart, length: length, writable: true))
            restStart += length
        }
        if indirect {
            let table = allocate(16 * descriptors.count)
            for (index, descriptor) in descriptors.enumerated() {
                putDescriptor(table: table, index: index, descriptor, next: index + 1 < descriptors.count ? index + 1 : nil)
            }
            submit(queue: queue, [TestDescriptor(offset: table, length: 16 * descriptors.count, writable: false, indirect: true)])
        } else {
            submit(queue: queue, descriptors)
        }
        let (head, written) = try waitForUsed(queue: queue)
        #expect(head == 0)
        return read(Int(written), at: replyOffset)
    }

    func nextUnique() -> UInt64 {
        unique += 1
        return unique
    }
}


/// How the backend's connection ended, set by its thread.
final class ConnectionOutcome: Sendable {
    let value = Mutex<VhostUserError??>(.none)
}
