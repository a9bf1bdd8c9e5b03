// The memory of recently fetched blobs that keeps a stale batch plan from fetching them again:
// it answers for the last `capacity` blobs and forgets the oldest first.
import Testing
@testable import Dicfuse

@Suite struct RecentObjectsTests {
    func id(_ number: Int) -> ObjectID {
        var bytes = [UInt8](repeating: 0, count: 20)
        for shift in 0..<4 { bytes[shift] = UInt8(truncatingIfNeeded: number >> (8 * shift)) }
        return ObjectID(bytes: bytes)!
    }

    @Test func remembersTheLastCapacityObjectsAndForgetsTheOldestFirst() {
        var recent = RecentObjects()
        for number in 0..<RecentObjects.capacity { recent.insert(id(number)) }
        #expect(recent.contains(id(0)) && recent.contains(id(RecentObjects.capacity - 1)))
        recent.insert(id(0))  // already there: no slot used
        recent.insert(id(RecentObjects.capacity))
        #expect(!recent.contains(id(0)), "the oldest went")
        #expect(recent.contains(id(1)) && recent.contains(id(RecentObjects.capacity)))
        recent.insert(id(RecentObjects.capacity + 1))
        #expect(!recent.contains(id(1)))
        #expect(!recent.contains(id(RecentObjects.capacity + 2)), "never fetched")
    }

    @Test func forgetsARemovedObject() {
        var recent = RecentObjects()
        recent.insert(id(1))
        recent.insert(id(2))
        recent.remove(id(1))
        #expect(!recent.contains(id(1)))
        #expect(recent.contains(id(2)))
        recent.insert(id(1))
        #expect(recent.contains(id(1)), "inserted again after removal")
    }
}

// The last directories located, so a file's lookup starts from its directory's tree.
@Suite struct RecentDirectoriesTests {
    func id(_ number: UInt8) -> ObjectID { ObjectID(bytes: [UInt8](repeating: number, count: 20))! }

    @Test func answersForTheLastDirectoriesAndReplacesTheOldestFirst() {
        var recent = RecentDirectories()
        let paths = (0..<RecentDirectories.capacity).map { Array("dir/\($0)".utf8) }
        for (number, path) in paths.enumerated() { recent.remember(path[...], tree: id(UInt8(number))) }
        for (number, path) in paths.enumerated() { #expect(recent.tree(of: path[...]) == id(UInt8(number))) }
        #expect(recent.tree(of: Array("dir".utf8)[...]) == nil, "a prefix is another directory")
        #expect(recent.tree(of: Array("dir/0/x".utf8)[...]) == nil)
        recent.remember(Array("other".utf8)[...], tree: id(99))
        #expect(recent.tree(of: paths[0][...]) == nil, "the oldest went")
        #expect(recent.tree(of: paths[1][...]) == id(1))
        #expect(recent.tree(of: Array("other".utf8)[...]) == id(99))
        // A slice in the middle of a longer path, as `locate` passes it.
        let file = Array("dir/1/file.c".utf8)
        #expect(recent.tree(of: file[..<5]) == id(1))
    }
}

