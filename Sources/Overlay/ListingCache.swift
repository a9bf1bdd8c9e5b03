// Merged directory listings kept between READDIR calls. The kernel caches a whole listing
// itself once read, so this only has to span the calls of one read of a large directory; a
// small bound with wholesale clearing is enough, and no node has to be kept alive for it.
import FUSEWire

struct ListingCache {
    static let capacity = 64

    private var listings: [InodeNumber: (generation: UInt64, entries: [DirectoryEntry])] = [:]

    /// The listing of `node` if it was built at namespace generation `generation`.
    func entries(of node: InodeNumber, generation: UInt64) -> [DirectoryEntry]? {
        guard let cached = listings[node], cached.generation == generation else { return nil }
        return cached.entries
    }

    mutating func store(_ entries: [DirectoryEntry], of node: InodeNumber, generation: UInt64) {
        if listings.count >= Self.capacity, listings[node] == nil { listings.removeAll(keepingCapacity: true) }
        listings[node] = (generation, entries)
    }
}
