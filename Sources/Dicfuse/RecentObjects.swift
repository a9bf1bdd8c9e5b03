// The last objects this daemon fetched and stored, so a batch planned a moment before they
// arrived does not fetch them again. Planning reads the content store and the in-flight table
// at different times; a blob whose batch finished in between looked missing to the plan.
// Bounded: the oldest fall out (after that, the content store itself says they are cached).
struct RecentObjects {
    static let capacity = 16_384
    private var members: Set<ObjectID> = []
    private var ring: [ObjectID] = []
    private var next = 0

    func contains(_ id: ObjectID) -> Bool { members.contains(id) }

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
