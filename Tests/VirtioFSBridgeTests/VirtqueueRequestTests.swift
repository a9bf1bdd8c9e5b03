// FUSE requests through split virtqueues: what a guest's virtiofs driver sends, answered by the
// shared dispatcher over a real overlay, with the bytes checked in guest memory and on disk.
import Foundation
import ScorpioSys
import Testing

@testable import VirtioFSBridge

@Suite(.serialized)
struct VirtqueueRequestTests {
    @Test func lookupOpenReadAndWriteGoThroughTheRings() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        try fixture.start()
        let frontend = fixture.frontend

        let entry = try fixture.lookup("hello.txt")
        #expect(entry.error == 0)
        #expect(entry.entrySize == 11)
        let node = entry.entryNode
        let opened = FUSEReply(bytes: try frontend.fuse(FUSEMessage.open(node: node, flags: 0, unique: frontend.nextUnique())))
        #expect(opened.error == 0)
        let data = FUSEReply(bytes: try frontend.fuse(
            FUSEMessage.read(node: node, handle: opened.openHandle, offset: 0, size: 4096, unique: frontend.nextUnique())))
        #expect(data.error == 0)
        #expect(String(decoding: data.body, as: UTF8.self) == "hello world")

        let created = FUSEReply(bytes: try frontend.fuse(FUSEMessage.create("from-guest.txt", unique: frontend.nextUnique())))
        #expect(created.error == 0)
        let payload = Array(repeating: Array("guest data ".utf8), count: 1000).flatMap { $0 }
        // The request arrives in 4 readable descriptors, as a guest's page-sized pieces would.
        let written = FUSEReply(bytes: try frontend.fuse(
            FUSEMessage.write(node: created.entryNode, handle: created.createHandle, offset: 0, data: payload, unique: frontend.nextUnique()),
            pieces: 4))
        #expect(written.error == 0)
        #expect(written.load(16) as UInt32 == UInt32(payload.count))
        let released = FUSEReply(bytes: try frontend.fuse(FUSEMessage.release(node: created.entryNode, handle: created.createHandle, unique: frontend.nextUnique())))
        #expect(released.error == 0)
        #expect(FileManager.default.contents(atPath: fixture.upper + "/from-guest.txt") == Data(payload))
        // The lower file is untouched and was not copied up by reading it.
        #expect(!FileManager.default.fileExists(atPath: fixture.upper + "/hello.txt"))
    }

    @Test func bulkDataMovesBetweenFilesAndGuestPages() throws {
        let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let fixture = try VirtioFSFixture(lowerFiles: [:])
        defer { fixture.remove() }
        try Data(big).write(to: URL(fileURLWithPath: fixture.lower + "/big.bin"))
        try fixture.start()
        let frontend = fixture.frontend
        let node = try fixture.lookup("big.bin").entryNode
        let handle = FUSEReply(bytes: try frontend.fuse(FUSEMessage.open(node: node, flags: 0, unique: frontend.nextUnique()))).openHandle
        // 128 KiB reads into 32 page-sized descriptors after the header: the scattered path.
        var read: [UInt8] = []
        while read.count < big.count {
            let size = 128 << 10
            let reply = FUSEReply(bytes: try frontend.fuse(
                FUSEMessage.read(node: node, handle: handle, offset: UInt64(read.count), size: UInt32(size), unique: frontend.nextUnique()),
                replySize: 16 + size, replyPieces: 32))
            #expect(reply.error == 0)
            #expect(Int(reply.length) == reply.bytes.count)
            guard !reply.body.isEmpty else { break }
            read += reply.body
        }
        #expect(read == big)
        // A 200 KiB write whose data arrives in 50 readable descriptors.
        let created = FUSEReply(bytes: try frontend.fuse(FUSEMessage.create("copy.bin", unique: frontend.nextUnique())))
        let chunk = Array(big[0..<(200 << 10)])
        let written = FUSEReply(bytes: try frontend.fuse(
            FUSEMessage.write(node: created.entryNode, handle: created.createHandle, offset: 4096, data: chunk, unique: frontend.nextUnique()),
            pieces: 50))
        #expect(written.error == 0)
        #expect(written.load(16) as UInt32 == UInt32(chunk.count))
        _ = try frontend.fuse(FUSEMessage.release(node: created.entryNode, handle: created.createHandle, unique: frontend.nextUnique()))
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: fixture.upper + "/copy.bin"))
        #expect(onDisk.count == 4096 + chunk.count)
        #expect(Array(onDisk.dropFirst(4096)) == chunk)
        // A WRITE that declares more data than it carries is refused, and nothing is written.
        let lying = FUSEMessage.write(node: created.entryNode, handle: created.createHandle, offset: 0, data: [1, 2, 3], unique: 500)
        var patched = lying
        patched.replaceSubrange(56..<60, with: [9, 0, 0, 0])  // fuse_write_in.size = 9
        #expect(FUSEReply(bytes: try frontend.fuse(patched)).error == -22)
    }

    @Test func memorySlotsAddAndRemoveRegionsUnderRunningQueues() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        let frontend = fixture.frontend
        try frontend.negotiate(memorySlots: true)
        #expect(FUSEReply(bytes: try frontend.fuse(FUSEMessage.initialize(unique: frontend.nextUnique()))).error == 0)
        #expect(try fixture.lookup("hello.txt").entrySize == 11)
        // A second region elsewhere in guest-physical space (hot-plugged memory), then removed:
        // the queues restart on each new table and keep serving.
        let extra = try MemoryMapping.sharedMemoryFile(name: "scorpio-test-extra", size: 1 << 20)
        defer { extra.closeQuietly() }
        let hotplug = MemoryRegionDescription(guestPhysicalAddress: 0x1_0000_0000, size: 1 << 20, userAddress: 0x7f13_0000_0000, mmapOffset: 0)
        try frontend.expectAck(VhostUserRequest.addMemReg.rawValue, payload: frontend.singleRegion(hotplug), descriptors: [extra])
        #expect(try fixture.lookup("hello.txt").entrySize == 11)
        try frontend.expectAck(VhostUserRequest.remMemReg.rawValue, payload: frontend.singleRegion(hotplug))
        #expect(try fixture.lookup("hello.txt").entrySize == 11)
        #expect(try frontend.acked(VhostUserRequest.remMemReg.rawValue, payload: frontend.singleRegion(hotplug)) == 1, "not mapped any more")
    }

    @Test func forgetOnTheHiprioQueueGetsNoReply() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        try fixture.start()
        let node = try fixture.lookup("hello.txt").entryNode
        let frontend = fixture.frontend
        let reply = try frontend.fuse(FUSEMessage.forget(node: node, count: 1, unique: frontend.nextUnique()), queue: 0)
        #expect(reply.isEmpty, "FORGET must return its buffers with 0 bytes written")
        #expect(try fixture.lookup("hello.txt").error == 0)
    }

    @Test func indirectDescriptorTablesCarryRequests() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        try fixture.start()
        let frontend = fixture.frontend
        let reply = FUSEReply(bytes: try frontend.fuse(FUSEMessage.lookup("hello.txt", unique: frontend.nextUnique()), pieces: 2, indirect: true))
        #expect(reply.error == 0)
        #expect(reply.entrySize == 11)
    }

    @Test func interruptsFollowTheGuestsWishes() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        try fixture.start(eventIndex: true)
        let frontend = fixture.frontend
        _ = frontend.interrupted(1, waitMilliseconds: 0)
        // used_event far ahead: the guest does not want an interrupt for the next entry.
        let usedEvent = GuestLayout.availableRing(1) + 4 + 2 * Int(GuestLayout.queueSize)
        var far = [UInt8](); far.appendLittleEndian(frontend.usedIndex(1) &+ 100)
        frontend.write(far, at: usedEvent)
        #expect(try fixture.lookup("hello.txt").error == 0)
        #expect(!frontend.interrupted(1, waitMilliseconds: 300))
        // used_event at the next entry: it does.
        var next = [UInt8](); next.appendLittleEndian(frontend.usedIndex(1))
        frontend.write(next, at: usedEvent)
        #expect(try fixture.lookup("hello.txt").error == 0)
        #expect(frontend.interrupted(1))
        // avail_event tells the guest which entry should kick us next.
        let availEvent: UInt16 = frontend.read(2, at: GuestLayout.usedRing(1) + 4 + 8 * Int(GuestLayout.queueSize))
            .withUnsafeBytes { $0.loadLittleEndian(at: 0) }
        #expect(availEvent == frontend.nextAvailable[1])
    }

    @Test func vringBaseStopsAQueueAndAKickResumesIt() throws {
        let fixture = try VirtioFSFixture()
        defer { fixture.remove() }
        try fixture.start()
        let frontend = fixture.frontend
        #expect(try fixture.lookup("hello.txt").error == 0)
        let state = try frontend.get(.getVringBase, payload: frontend.state(1, 0))
        let base: UInt32 = state.withUnsafeBytes { $0.loadLittleEndian(at: 4) }
        #expect(base == UInt32(frontend.nextAvailable[1]), "base is where the guest's next request will be")
        // A stopped queue serves nothing until the frontend hands it a kick fd again.
        frontend.submitLookupWithoutWaiting()
        #expect(throws: FrontendFailure.self) { try frontend.waitForUsed(queue: 1, timeoutMilliseconds: 300) }
        let kick = try EventCounter.create()
        frontend.kicks[1] = kick
        try frontend.expectAck(VhostUserRequest.setVringKick.rawValue, payload: frontend.u64(1), descriptors: [kick])
        let (_, written) = try frontend.waitForUsed(queue: 1)
        #expect(written > 16, "the request made available while stopped is served after the restart")
    }
}

extension TestFrontend {
    func submitLookupWithoutWaiting() {
        dataCursor = GuestLayout.dataArea
        let request = FUSEMessage.lookup("hello.txt", unique: nextUnique())
        let requestOffset = allocate(request.count)
        write(request, at: requestOffset)
        let replyOffset = allocate(4096)
        submit(queue: 1, [TestDescriptor(offset: requestOffset, length: request.count, writable: false),
                          TestDescriptor(offset: replyOffset, length: 4096, writable: true)])
    }
}
