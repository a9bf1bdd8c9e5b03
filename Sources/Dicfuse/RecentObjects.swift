// A bounded set of object ids; the oldest fall out. It holds the last objects this daemon
// fetched and stored, so a batch planned a moment before they arrived does not fetch them
// again (planning reads the content store and the in-flight table at different times; a blob
// whose batch finished in between looked missing to the plan), and the blobs planning found
// missing. Once an id falls out, the content store itself answers.
struct RecentObjects {
    static let capacity = 16_384
    private var members: Set<ObjectID> = []
    private var ring: [ObjectID] = []
    private var next = 0

    func contains(_ id: ObjectID) -> Bool { members.contains(id) }

    /// Forgets `id` (its slot in the ring stays until it is reused).
    mutating func remove(_ id: ObjectID) { members.remove(id) }

    mutating func removeAll() {
        members.removeAll()
        ring.removeAll(keepingCapacity: true)
        next = 0
    }

    mutating func insert(_ id: ObjectID) {
        guard !members.contains(id) else { return }
        if ring.count < Self.capacity {
            ring.append(id)
        } else {
            members.remove(ring[next])
            ring[next] = id
            next = (next + 1) % Self.capacity
        }
        members.insert(id)
    }
}
