// The listing cache keeps a directory's merged listing between READDIR calls. A listing merged
// while its own directory changed is not stored (it would hide the change until the next one);
// changes elsewhere do not prevent storing it.
import FUSEWire
@testable import Overlay
import Testing

struct ListingCacheTests {
    let listing = [DirectoryEntry(name: Array("a".utf8), inode: 7, type: 8, nextOffset: 3)]
    let directory = InodeNumber(rawValue: 5)
    let other = InodeNumber(rawValue: 6)

    @Test func aListingMergedWhileItsDirectoryChangedIsNotStored() {
        var cache = ListingCache()
        let start = cache.changeCount
        cache.forget(directory)
        cache.store(listing, of: directory, mergedAfter: start)
        #expect(cache.entries(of: directory) == nil)
    }

    @Test func changesToOtherDirectoriesDoNotPreventStoring() {
        var cache = ListingCache()
        let start = cache.changeCount
        cache.forget(other)
        cache.store(listing, of: directory, mergedAfter: start)
        #expect(cache.entries(of: directory)?.count == 1)
        cache.forget(directory)
        #expect(cache.entries(of: directory) == nil)
    }

    @Test func tooManyChangesToTellAreTreatedAsAChange() {
        var cache = ListingCache()
        let start = cache.changeCount
        for _ in 0...ListingCache.recentChangeLimit { cache.forget(other) }
        cache.store(listing, of: directory, mergedAfter: start)
        #expect(cache.entries(of: directory) == nil)
    }
}
