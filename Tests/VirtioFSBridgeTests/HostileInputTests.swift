// Broken and hostile input from a frontend or guest: each bad message or chain fails alone, with
// an error (acknowledgement 1 or a chain returned with 0 bytes), and the backend keeps serving.
// Framing errors end the connection without crashing.
import Foundation
import ScorpioSys
import Testing

@testable import VirtioFSBridge

@Suite(.serialized)
struct HostileInputTests {
    @Test func badControlMessagesAreRefusedOneByOne() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        let frontend = fixture.frontend
        try frontend.send(VhostUserRequest.setProtocolFeatures.rawValue, payload: frontend.u64(VhostProtocolFeature.replyAck))
        #expect(try frontend.acked(VhostUserRequest.setVringNum.rawValue, payload: [1, 2, 3]) == 1, "short payload")
        #expect(try frontend.acked(99, payload: frontend.u64(0)) == 1, "unknown request")
        #expect(try frontend.acked(VhostUserRequest.setVringNum.rawValue, payload: frontend.state(1, 100)) == 1, "size not a power of two")
        #expect(try frontend.acked(VhostUserRequest.setVringNum.rawValue, payload: frontend.state(7, 64)) == 1, "queue index out of range")
        #expect(try frontend.acked(VhostUserRequest.setVringKick.rawValue, payload: frontend.u64(1)) == 1, "kick without a descriptor")
        #expect(try frontend.acked(VhostUserRequest.setFeatures.rawValue, payload: frontend.u64(1 << 40)) == 1, "feature never offered")
        var table = [UInt8]()
        table.appendLittleEndian(UInt32(1)); table.appendLittleEndian(UInt32(0))
        MemoryRegionDescription(guestPhysicalAddress: 0, size: 4096, userAddress: 0, mmapOffset: 0).encode(into: &table)
        #expect(try frontend.acked(VhostUserRequest.setMemTable.rawValue, payload: table) == 1, "region without its memfd")
        var huge = [UInt8]()
        huge.appendLittleEndian(UInt32(1)); huge.appendLittleEndian(UInt32(0))
        MemoryRegionDescription(guestPhysicalAddress: 0, size: UInt64.max - 10, userAddress: 0, mmapOffset: 100).encode(into: &huge)
        #expect(try frontend.acked(VhostUserRequest.setMemTable.rawValue, payload: huge, descriptors: [frontend.memoryFile]) == 1, "size overflows")
        #expect(try frontend.acked(VhostUserRequest.setLogBase.rawValue, payload: frontend.u64(0)) == 1, "dirty logging is not offered")
        // The connection still works: a full negotiation and a request succeed.
        try fixture.start()
        #expect(try fixture.lookup("hello.txt").error == 0)
    }

    @Test func ringsOutsideGuestMemoryAreNotStarted() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        try fixture.frontend.negotiate()
        let frontend = fixture.frontend
        // Stop queue 1, then point its descriptor table past the end of guest memory.
        _ = try frontend.get(.getVringBase, payload: frontend.state(1, 0))
        try frontend.expectAck(VhostUserRequest.setVringAddr.rawValue,
                               payload: frontend.vringAddresses(1, descriptorTable: GuestLayout.userBase + UInt64(GuestLayout.memorySize) - 512))
        let kick = try EventCounter.create()
        frontend.kicks[1] = kick
        #expect(try frontend.acked(VhostUserRequest.setVringKick.rawValue, payload: frontend.u64(1), descriptors: [kick]) == 1)
    }

    @Test func badChainsComeBackEmptyAndTheQueueGoesOn() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        try fixture.start()
        let frontend = fixture.frontend
        let reply = frontend.allocate(4096)
        let request = frontend.allocate(64)
        frontend.write(FUSEMessage.lookup("hello.txt", unique: 77), at: request)
        let lookupLength = FUSEMessage.lookup("hello.txt", unique: 77).count
        let bad: [(String, [TestDescriptor], [Int: Int])] = [
            ("buffer outside guest memory", [TestDescriptor(offset: 0, length: 64, writable: false, address: 0x10),
                                             TestDescriptor(offset: reply, length: 4096, writable: true)], [:]),
            ("buffer running off the end", [TestDescriptor(offset: GuestLayout.memorySize - 8, length: 64, writable: false),
                                            TestDescriptor(offset: reply, length: 4096, writable: true)], [:]),
            ("address wraps", [TestDescriptor(offset: 0, length: 64, writable: false, address: UInt64.max - 8)], [:]),
            ("loop", [TestDescriptor(offset: request, length: lookupLength, writable: false),
                      TestDescriptor(offset: reply, length: 4096, writable: true)], [1: 0]),
            ("readable after writable", [TestDescriptor(offset: reply, length: 4096, writable: true),
                                         TestDescriptor(offset: request, length: lookupLength, writable: false)], [:]),
            ("next outside the table", [TestDescriptor(offset: request, length: lookupLength, writable: false)], [0: 5000]),
        ]
        for (what, descriptors, links) in bad {
            frontend.submit(queue: 1, descriptors, links: links)
            let (head, written) = try frontend.waitForUsed(queue: 1)
            #expect(head == 0, "\(what)")
            #expect(written == 0, "\(what): the chain must come back unused")
        }
        // Nested indirect tables and indirect tables outside memory.
        let inner = frontend.allocate(32)
        frontend.putDescriptor(table: inner, index: 0, TestDescriptor(offset: request, length: lookupLength, writable: false), next: nil)
        let outer = frontend.allocate(16)
        frontend.putDescriptor(table: outer, index: 0, TestDescriptor(offset: inner, length: 16, writable: false, indirect: true), next: nil)
        frontend.submit(queue: 1, [TestDescriptor(offset: outer, length: 16, writable: false, indirect: true)])
        #expect(try frontend.waitForUsed(queue: 1).written == 0, "nested indirect")
        frontend.submit(queue: 1, [TestDescriptor(offset: 0, length: 16, writable: false, address: 0x20, indirect: true)])
        #expect(try frontend.waitForUsed(queue: 1).written == 0, "indirect table outside memory")
        // A FUSE header whose length disagrees with the bytes sent: an EINVAL reply.
        let lying = FUSEMessage.request(1, node: 1, unique: 99, body: Array("hello.txt".utf8) + [0], declaredLength: 4000)
        let refused = FUSEReply(bytes: try frontend.fuse(lying))
        #expect(refused.error == -22)
        #expect(refused.unique == 99)
        // A reply that cannot fit the guest's buffers: an EIO header instead of a torn reply.
        let cramped = FUSEReply(bytes: try frontend.fuse(FUSEMessage.lookup("hello.txt", unique: 100), replySize: 20))
        #expect(cramped.length == 16)
        #expect(cramped.error == -5)
        // After all of that the queue still serves.
        #expect(try fixture.lookup("hello.txt").entrySize == 11)
    }

    @Test func anAvailableIndexJumpStopsOnlyThatQueue() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        try fixture.start()
        let frontend = fixture.frontend
        SharedMemoryOrder.storeRelease(frontend.memory + GuestLayout.availableRing(1) + 2, frontend.nextAvailable[1] &+ 1000)
        EventCounter.signal(frontend.kicks[1])
        usleep(100_000)
        // The control channel still answers, and the hiprio queue still takes FORGETs.
        let features = try frontend.get(.getFeatures)
        #expect(features.count == 8)
        #expect(try frontend.fuse(FUSEMessage.forget(node: 1, count: 1, unique: 5), queue: 0).isEmpty)
        #expect(try frontend.get(.getVringBase, payload: frontend.state(1, 0)).count == 8)
    }

    @Test func badFramingEndsTheConnection() throws {
        let versionFixture = try VirtioFSFixture()
        defer { versionFixture.remove() }
        try versionFixture.frontend.send(VhostUserRequest.getFeatures.rawValue, flags: 0x2)
        #expect(versionFixture.frontend.waitForBackendToEnd() == .some(.badVersion(0x2)))

        let sizeFixture = try VirtioFSFixture()
        defer { sizeFixture.remove() }
        var header = [UInt8]()
        header.appendLittleEndian(VhostUserRequest.setMemTable.rawValue)
        header.appendLittleEndian(VhostUserFlags.version)
        header.appendLittleEndian(UInt32(1 << 30))
        try header.withUnsafeBytes { try UnixSocket.send(sizeFixture.frontend.socket, $0) }
        #expect(sizeFixture.frontend.waitForBackendToEnd() == .some(.payloadTooLarge(1 << 30)))

        let cutFixture = try VirtioFSFixture()
        defer { cutFixture.remove() }
        var partial = [UInt8]()
        partial.appendLittleEndian(VhostUserRequest.setFeatures.rawValue)
        partial.appendLittleEndian(VhostUserFlags.version)
        partial.appendLittleEndian(UInt32(8))
        partial += [1, 2]
        try partial.withUnsafeBytes { try UnixSocket.send(cutFixture.frontend.socket, $0) }
        UnixSocket.shutdown(cutFixture.frontend.socket)
        #expect(cutFixture.frontend.waitForBackendToEnd() == .some(.invalid("connection closed inside a message")))
    }

    @Test func randomControlMessagesNeverCrashTheBackend() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let fixture = try VirtioFSFixture()
            defer { fixture.remove() }
            for _ in 0..<50 {
                let request = UInt32.random(in: 0...40, using: &generator)
                let size = Int.random(in: 0...64, using: &generator)
                let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
                try? fixture.frontend.send(request, flags: VhostUserFlags.version, payload: payload)
            }
            // Whatever happened, the backend either still answers or ended the connection cleanly.
            fixture.frontend.discardPendingReplies()
            if (try? fixture.frontend.get(.getQueueNum)) == nil {
                #expect(fixture.frontend.waitForBackendToEnd() != nil)
            }
        }
    }
}
