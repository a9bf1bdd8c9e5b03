// Packs parsed while they arrive (PackStream) and their blobs stored as they come (BlobIntake):
// a git pack fed in pieces of any size gives what the whole-pack parser gives, a pack cut
// anywhere fails, a bad trailer fails at the end; bases the bounded cache dropped are read back
// from the content store and checked; and a pack rejected part way (a bad delta after good blobs,
// a blob the server left out, a bad trailer) leaves no blob of its own in the store, while blobs
// stored before it stay.
import Foundation
import Testing
@testable import Dicfuse

@Suite struct BlobIntakeTests: SampleBlobs {
    func withStore(_ body: (ObjectStore) throws -> Void) throws {
        let root = NSTemporaryDirectory() + "intake-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(try ObjectStore(root: root))
    }

    /// alpha, then beta as a delta on alpha, then gamma as a delta on beta.
    func chainPack() -> [UInt8] {
        let first = PackBuilder.plainEntry(.blob, alpha)
        let second = PackBuilder.offsetDeltaEntry(distance: first.count, delta: PackBuilder.insertDelta(from: alpha, to: beta))
        let third = PackBuilder.offsetDeltaEntry(distance: second.count, delta: PackBuilder.insertDelta(from: beta, to: gamma))
        return PackBuilder.pack([first, second, third])
    }

    @Test func droppedBasesAreReadBackFromTheStore() throws {
        try withStore { store in
            // No cache at all: every delta's base is read back from the blob just stored.
            let received = try BlobIntake.store(chainPack(), wanted: [gammaID, alphaID], in: store, baseCacheBytes: 0)
            #expect(received.ids == [alphaID, betaID, gammaID])
            #expect(received.bytes == alpha.count + beta.count + gamma.count)
            #expect(store.blobContent(alphaID) == alpha)
            #expect(store.blobContent(betaID) == beta)
            #expect(store.blobContent(gammaID) == gamma)
        }
    }

    /// Feeds `pack` to a PackStream in chunks of the given sizes (cycled), then finishes it.
    func streamed(_ pack: [UInt8], chunks: [Int], baseCacheBytes: Int = 1 << 20,
                  loadBase: @escaping (ObjectID) -> GitObject? = { _ in nil }) throws -> [GitObject] {
        var stream = PackStream(baseCacheBytes: baseCacheBytes, loadBase: loadBase)
        var objects: [GitObject] = []
        var position = 0
        var turn = 0
        while position < pack.count {
            let size = min(chunks[turn % chunks.count], pack.count - position)
            try stream.append(pack[position..<position + size]) { objects.append($0) }
            position += size
            turn += 1
        }
        try stream.finish { objects.append($0) }
        return objects
    }

    @Test func aBaseThatReadsBackWrongIsRejected() {
        var asked: [ObjectID] = []
        let gamma = self.gamma
        let error = packError {
            try streamed(chainPack(), chunks: [1 << 20], baseCacheBytes: 0) { id in
                asked.append(id)
                return GitObject(type: .blob, data: gamma)
            }
        }
        #expect(error == PackError.objectIDMismatch(expected: alphaID, actual: gammaID))
        #expect(asked == [alphaID])
    }

    @Test func aGitPackArrivingInPiecesGivesWhatParseGives() throws {
        let repo = try makeSampleRepo()
        defer { repo.remove() }
        for arguments in [["pack-objects", "--stdout", "--revs", "--delta-base-offset"],
                          ["-c", "pack.window=10", "pack-objects", "--stdout", "--revs"]] {
            let pack = try repo.git(arguments, input: bytes("HEAD\n"))
            let whole = try PackParser.parse(pack)
            #expect(whole.count > 10)
            // Byte by byte, odd sizes that split headers, ids and zlib streams, and at once.
            for chunks in [[1], [3, 7, 1, 64], [5000], [pack.count]] {
                let objects = try streamed(pack, chunks: chunks)
                #expect(Set(objects.map(\.id)) == Set(whole.map(\.id)), "chunks \(chunks)")
                #expect(objects.count == whole.count, "chunks \(chunks)")
                let content = Dictionary(whole.map { ($0.id, $0.data) }, uniquingKeysWith: { a, _ in a })
                #expect(objects.allSatisfy { content[$0.id] == $0.data }, "chunks \(chunks)")
            }
        }
    }

    @Test func objectsComeOutWhileALargePackArrives() throws {
        // 300 blobs of 10,000 bytes (about 3 MiB): many entries straddle a 64 KiB chunk and are
        // read once more has come, and a large one (1 MiB) needs several more chunks.
        var blobs = (0..<300).map { n in (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n &* 7) } }
        blobs.insert(Array(repeating: 0x5a, count: 1 << 20), at: 150)
        let pack = PackBuilder.pack(blobs.map { PackBuilder.plainEntry(.blob, $0) })
        var stream = PackStream(baseCacheBytes: 1 << 20, loadBase: { _ in nil })
        var objects: [GitObject] = []
        var deliveredBeforeTheEnd = 0
        for start in stride(from: 0, to: pack.count, by: 65_536) {
            try stream.append(pack[start..<min(start + 65_536, pack.count)]) { objects.append($0) }
            if start + 65_536 < pack.count { deliveredBeforeTheEnd = objects.count }
        }
        try stream.finish { objects.append($0) }
        #expect(objects.map(\.data) == blobs)
        #expect(deliveredBeforeTheEnd > 250, "objects were handed out while the pack arrived")
    }

    @Test func aPackCutAnywhereOrWithABadTrailerFailsAtTheEnd() throws {
        let pack = chainPack()
        for cut in 0..<pack.count {
            #expect(packError { try streamed(Array(pack[..<cut]), chunks: [2]) } != nil, "cut at \(cut)")
        }
        var damaged = pack
        damaged[damaged.count - 1] ^= 0xff
        var delivered = 0
        var stream = PackStream(baseCacheBytes: 1 << 20, loadBase: { _ in nil })
        try stream.append(damaged[...]) { _ in delivered += 1 }
        #expect(delivered == 3, "the objects were complete before the trailer")
        #expect(packError { try stream.finish { _ in } } == PackError.checksumMismatch)
        #expect(packError { try streamed(pack + [0], chunks: [4]) } != nil, "a byte after the trailer")
    }

    @Test func aBadDeltaAfterGoodBlobsLeavesNothingOfThePack() throws {
        try withStore { store in
            try store.store(GitObject(type: .blob, data: gamma))  // cached before this pack
            let first = PackBuilder.plainEntry(.blob, alpha)
            let second = PackBuilder.plainEntry(.blob, gamma)
            // A delta written for a base of beta's size, pointing at alpha.
            let third = PackBuilder.offsetDeltaEntry(distance: first.count + second.count,
                                                     delta: PackBuilder.insertDelta(from: beta, to: gamma))
            let pack = PackBuilder.pack([first, second, third])
            #expect(throws: RemoteError.self) {
                try BlobIntake.store(pack, wanted: [alphaID], in: store, baseCacheBytes: 1 << 20)
            }
            #expect(store.cachedBlobSize(alphaID) == nil, "alpha came from the rejected pack")
            #expect(store.blobContent(gammaID) == gamma, "gamma was cached before the pack")
        }
    }

    @Test func aBlobTheServerLeftOutRejectsThePack() throws {
        try withStore { store in
            let pack = PackBuilder.pack([PackBuilder.plainEntry(.blob, alpha)])
            do {
                _ = try BlobIntake.store(pack, wanted: [alphaID, betaID], in: store, baseCacheBytes: 1 << 20)
                Issue.record("a pack without beta was accepted")
            } catch let error as RemoteError {
                #expect("\(error)".contains(betaID.hex))
            }
            #expect(store.cachedBlobSize(alphaID) == nil)
        }
    }

    @Test func aCorruptTrailerStoresNothing() throws {
        try withStore { store in
            var pack = chainPack()
            pack[pack.count - 1] ^= 0xff
            #expect(throws: RemoteError.self) {
                try BlobIntake.store(pack, wanted: [alphaID], in: store, baseCacheBytes: 1 << 20)
            }
            #expect(store.cachedBlobSize(alphaID) == nil)
        }
    }
}
