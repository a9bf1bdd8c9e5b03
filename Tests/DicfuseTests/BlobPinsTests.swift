// The pin tables `cache gc` reads: a pinned blob shows in every snapshot until it is unpinned,
// tables of live layers are kept, a table nobody holds locked (its daemon died) is deleted, and
// a layer's table goes with it.
import Foundation
import Testing
@testable import Dicfuse

@Suite struct BlobPinsTests {
    let blob = ObjectID(hex: "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")!
    let other = ObjectID(hex: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")!

    func cacheRoot() throws -> String {
        let path = NSTemporaryDirectory() + "pins-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aPinnedBlobShowsUntilItIsUnpinned() throws {
        let root = try cacheRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let pins = try BlobPins(cacheRoot: root)
        #expect(!BlobPins.snapshot(cacheRoot: root).contains(blob))
        let first = pins.pin(blob)
        let second = pins.pin(blob)  // two open files of one blob
        #expect(BlobPins.snapshot(cacheRoot: root).contains(blob))
        #expect(!BlobPins.snapshot(cacheRoot: root).contains(other))
        pins.unpin(slot: first)
        #expect(BlobPins.snapshot(cacheRoot: root).contains(blob), "one file still has it open")
        pins.unpin(slot: second)
        #expect(!BlobPins.snapshot(cacheRoot: root).contains(blob))
    }

    @Test func tablesOfLiveLayersAreMergedAndKept() throws {
        let root = try cacheRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let one = try BlobPins(cacheRoot: root)
        let two = try BlobPins(cacheRoot: root)
        _ = one.pin(blob)
        _ = two.pin(other)
        let snapshot = BlobPins.snapshot(cacheRoot: root)
        #expect(snapshot.contains(blob) && snapshot.contains(other))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/pins").count == 2)
    }

    @Test func aTableNobodyLocksIsDeletedAndALayersTableGoesWithIt() throws {
        let root = try cacheRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var pins: BlobPins? = try BlobPins(cacheRoot: root)
        _ = pins!.pin(blob)
        // A killed daemon's table: counters set, but no process holds its lock.
        let dead = root + "/pins/999999-0"
        var counters = Data(count: 4 << 20)
        counters[BlobPins.slot(of: other) * 4] = 1
        try counters.write(to: URL(fileURLWithPath: dead))
        let snapshot = BlobPins.snapshot(cacheRoot: root)
        #expect(!snapshot.contains(other), "a dead daemon's pins do not count")
        #expect(snapshot.contains(blob))
        #expect(!FileManager.default.fileExists(atPath: dead))
        pins = nil
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/pins").isEmpty)
    }

    @Test func idsAreSpreadOverTheirFirstTwentyBits() {
        #expect(BlobPins.slot(of: blob) == 0x3b18e)
        #expect(BlobPins.slot(of: other) == 0xe69de)
    }
}
