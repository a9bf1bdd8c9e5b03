// Resolving the deltas of a scanned pack. Decides the order and the limits: objects are resolved
// by a worklist (never recursion), starting from the whole objects in the pack; each resolved
// object releases the deltas waiting on its entry index (OFS_DELTA) or on its id (REF_DELTA),
// which also covers REF_DELTA bases stored later in the pack. Only when nothing more resolves
// inside the pack are the remaining REF_DELTA bases asked of the caller. A delta whose base never
// appears (including REF_DELTA cycles, which can never start) is deltaBaseMissing; a chain
// deeper than PackLimits.maxDeltaDepth is deltaChainTooDeep.

/// Turns scanned pack entries into objects.
struct DeltaResolver {
    private let entries: [PackEntry]
    /// The resolved object of each entry, once known.
    private var objects: [GitObject?]
    /// The delta chain length of each resolved entry (0 for whole objects).
    private var depths: [Int]
    /// OFS_DELTA entries by the index of their base entry.
    private var waitingOnIndex: [Int: [Int]] = [:]
    /// REF_DELTA entries by the id of their base.
    private var waitingOnID: [ObjectID: [Int]] = [:]
    /// Resolved entries whose waiting deltas have not been released yet.
    private var ready: [Int] = []

    init(entries: [PackEntry]) {
        self.entries = entries
        self.objects = Array(repeating: nil, count: entries.count)
        self.depths = Array(repeating: 0, count: entries.count)
    }

    /// Resolves every entry; returns the objects in pack order.
    mutating func resolve(externalBase: (ObjectID) -> GitObject?) throws(PackError) -> [GitObject] {
        for (index, entry) in entries.enumerated() {
            switch entry.kind {
            case .plain(let type):
                objects[index] = GitObject(type: type, data: entry.data)
                ready.append(index)
            case .offsetDelta(let baseIndex):
                waitingOnIndex[baseIndex, default: []].append(index)
            case .refDelta(let baseID):
                waitingOnID[baseID, default: []].append(index)
            }
        }
        try drain()

        // Bases outside the pack: each id is asked for at most once.
        var asked = Set<ObjectID>()
        while true {
            let pending = waitingOnID.keys.filter { !asked.contains($0) }.sorted()
            if pending.isEmpty { break }
            for id in pending {
                asked.insert(id)
                // An earlier external base may have led to this id inside the pack.
                guard let dependents = waitingOnID[id], let base = externalBase(id) else { continue }
                guard base.id == id else { throw .objectIDMismatch(expected: id, actual: base.id) }
                waitingOnID[id] = nil
                try release(dependents, base: base, baseDepth: 0)
                try drain()
            }
        }
        if let missing = waitingOnID.keys.min() { throw .deltaBaseMissing(missing) }

        let resolved = objects.compactMap { $0 }
        // Every OFS_DELTA chain ends at a whole object or a REF_DELTA, so this cannot fail.
        guard resolved.count == objects.count else { throw .corruptObject("unresolved delta") }
        return resolved
    }

    /// Releases the deltas waiting on every ready entry, until none is left.
    private mutating func drain() throws(PackError) {
        while let index = ready.popLast() {
            guard let base = objects[index] else { continue }
            var dependents = waitingOnIndex.removeValue(forKey: index) ?? []
            if let byID = waitingOnID.removeValue(forKey: base.id) {
                dependents += byID
            }
            try release(dependents, base: base, baseDepth: depths[index])
        }
    }

    /// Applies each dependent delta to `base` and marks the results ready.
    private mutating func release(_ dependents: [Int], base: GitObject, baseDepth: Int) throws(PackError) {
        guard !dependents.isEmpty else { return }
        let depth = baseDepth + 1
        guard depth <= PackLimits.maxDeltaDepth else { throw .deltaChainTooDeep }
        for index in dependents {
            let data = try DeltaApplier.apply(entries[index].data, to: base.data)
            objects[index] = GitObject(type: base.type, data: data)
            depths[index] = depth
            ready.append(index)
        }
    }
}
