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
}
