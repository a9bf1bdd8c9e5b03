// Storing a fetched pack's blobs while it is parsed (BlobIntake, PackParser.stream): bases that
// the bounded cache dropped are read back from the content store and checked, and a pack that is
// rejected part way (a bad delta after good blobs, a blob the server left out, a dropped base that
// reads back wrong) leaves no blob of its own in the store, while blobs stored before it stay.
import Foundation
import Testing
@testable import Dicfuse

@Suite struct BlobIntakeTests {
    let alpha = bytes("alpha content, long enough to serve as a delta base\n")
    let beta = bytes("beta content\n")
    let gamma = bytes("gamma content\n")
    var alphaID: ObjectID { ObjectHasher.id(type: .blob, data: alpha) }
    var betaID: ObjectID { ObjectHasher.id(type: .blob, data: beta) }
    var gammaID: ObjectID { ObjectHasher.id(type: .blob, data: gamma) }

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

    @Test func aBaseThatReadsBackWrongIsRejected() {
        var asked: [ObjectID] = []
        let gamma = self.gamma
        let error = packError {
            try PackParser.stream(chainPack(), baseCacheBytes: 0, loadBase: { id in
                asked.append(id)
                return GitObject(type: .blob, data: gamma)
            }, deliver: { _ in })
        }
        #expect(error == PackError.objectIDMismatch(expected: alphaID, actual: gammaID))
        #expect(asked == [alphaID])
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
