// Resolving a pack's deltas while its entries are read. Decides the order and the limits: an
// entry is resolved as soon as its base is (whole objects at once), and each resolved object
// releases the deltas waiting on its entry index (OFS_DELTA) or on its id (REF_DELTA, which also
// covers bases stored later in the pack), by a worklist, never recursion. Only when the whole
// pack is read are the remaining REF_DELTA bases asked of the caller (thin packs). A delta whose
// base never appears (including REF_DELTA cycles, which can never start) is deltaBaseMissing; a
// chain deeper than PackLimits.maxDeltaDepth is deltaChainTooDeep.
//
// Resolved objects are kept as bases in a cache bounded by bytes, oldest dropped first: git
// writes each delta family together (base first), so the bases a delta needs are nearly always
// recent. A dropped base is read back through `loadBase` and its id checked.

/// Turns pack entries into objects, as they are read.
struct DeltaResolver {
    /// Per entry: its id once resolved, and its delta chain length (0 for whole objects).
    private var ids: [ObjectID?] = []
    private var depths: [Int] = []
    /// The first entry resolved to each id (REF_DELTA bases inside the pack).
    private var indexByID: [ObjectID: Int] = [:]
    /// Deltas whose base entry (OFS_DELTA) or id (REF_DELTA) is not resolved yet.
    private var waitingOnIndex: [Int: [(index: Int, delta: [UInt8])]] = [:]
    private var waitingOnID: [ObjectID: [(index: Int, delta: [UInt8])]] = [:]
    private var cache: BaseCache
    private let loadBase: (ObjectID) -> GitObject?

    /// - Parameters:
    ///   - droppable: the type `loadBase` reads back; objects of other types stay cached.
    init(baseCacheBytes: Int, droppable: ObjectType = .blob, loadBase: @escaping (ObjectID) -> GitObject?) {
        cache = BaseCache(limit: baseCacheBytes, droppable: droppable)
        self.loadBase = loadBase
    }

    /// Takes entry `index` (entries come in pack order) and hands out every object that
    /// becomes resolved, with its entry index.
    mutating func add(_ entry: PackEntry, index: Int, deliver: (Int, GitObject) throws -> Void) throws {
        precondition(index == ids.count, "entries are added in order")
        ids.append(nil)
        depths.append(0)
        switch entry.kind {
        case .plain(let type):
            try resolve([(index, GitObject(type: type, data: entry.data), 0)], deliver: deliver)
        case .offsetDelta(let baseIndex):
            guard ids[baseIndex] != nil else {
                waitingOnIndex[baseIndex, default: []].append((index, entry.data))
                return
            }
            try resolve(applying: [(index, entry.data)], to: base(at: baseIndex), baseDepth: depths[baseIndex], deliver: deliver)
        case .refDelta(let baseID):
            guard let baseIndex = indexByID[baseID] else {
                waitingOnID[baseID, default: []].append((index, entry.data))
                return
            }
            try resolve(applying: [(index, entry.data)], to: base(at: baseIndex), baseDepth: depths[baseIndex], deliver: deliver)
        }
    }

    /// After the last entry: asks for the REF_DELTA bases that are not in the pack (each id at
    /// most once, in id order) and resolves what waits on them.
    mutating func finish(externalBase: (ObjectID) -> GitObject?, deliver: (Int, GitObject) throws -> Void) throws {
        var asked = Set<ObjectID>()
        while true {
            let pending = waitingOnID.keys.filter { !asked.contains($0) }.sorted()
            if pending.isEmpty { break }
            for id in pending {
                asked.insert(id)
                // An earlier external base may have led to this id inside the pack.
                guard let dependents = waitingOnID[id], let base = externalBase(id) else { continue }
                guard base.id == id else { throw PackError.objectIDMismatch(expected: id, actual: base.id) }
                waitingOnID[id] = nil
                try resolve(applying: dependents, to: base, baseDepth: 0, deliver: deliver)
            }
        }
        if let missing = waitingOnID.keys.min() { throw PackError.deltaBaseMissing(missing) }
        // Every OFS_DELTA chain ends at a whole object or a REF_DELTA, so this cannot happen.
        guard waitingOnIndex.isEmpty else { throw PackError.corruptObject("unresolved delta") }
    }

    /// The resolved object of entry `index`, from the cache or read back.
    private func base(at index: Int) throws(PackError) -> GitObject {
        if let cached = cache[index] { return cached }
        // Only resolved entries are asked for.
        let id = ids[index]!
        guard let loaded = loadBase(id) else { throw .deltaBaseMissing(id) }
        guard loaded.id == id else { throw .objectIDMismatch(expected: id, actual: loaded.id) }
        return loaded
    }

    private mutating func resolve(applying deltas: [(index: Int, delta: [UInt8])], to base: GitObject, baseDepth: Int,
                                  deliver: (Int, GitObject) throws -> Void) throws {
        try resolve(try Self.apply(deltas, to: base, baseDepth: baseDepth), deliver: deliver)
    }

    /// Records resolved objects, hands them out and resolves what waited on them.
    private mutating func resolve(_ work: [(index: Int, object: GitObject, depth: Int)],
                                  deliver: (Int, GitObject) throws -> Void) throws {
        var work = work
        while let (index, object, depth) = work.popLast() {
            ids[index] = object.id
            depths[index] = depth
            if indexByID[object.id] == nil { indexByID[object.id] = index }
            try deliver(index, object)
            var dependents = waitingOnIndex.removeValue(forKey: index) ?? []
            if let byID = waitingOnID.removeValue(forKey: object.id) { dependents += byID }
            work += try Self.apply(dependents, to: object, baseDepth: depth)
            cache.insert(object, at: index)
        }
    }

    private static func apply(_ deltas: [(index: Int, delta: [UInt8])], to base: GitObject,
                              baseDepth: Int) throws(PackError) -> [(index: Int, object: GitObject, depth: Int)] {
        guard !deltas.isEmpty else { return [] }
        guard baseDepth + 1 <= PackLimits.maxDeltaDepth else { throw .deltaChainTooDeep }
        var resolved: [(index: Int, object: GitObject, depth: Int)] = []
        resolved.reserveCapacity(deltas.count)
        for (index, delta) in deltas {
            let data = try DeltaApplier.apply(delta, to: base.data)
            resolved.append((index, GitObject(type: base.type, data: data), baseDepth + 1))
        }
        return resolved
    }
}

/// Resolved objects by entry index, the oldest dropped once they hold more than `limit` bytes.
/// Only objects of the `droppable` type are dropped, the one the caller can read back: blobs
/// from the content store in a blob fetch (its commits and trees are rare and small), trees
/// from the metadata store in a fetch of a commit's trees.
struct BaseCache {
    let limit: Int
    let droppable: ObjectType
    private var objects: [Int: GitObject] = [:]
    private var order: [Int] = []
    private var head = 0
    private var bytes = 0

    init(limit: Int, droppable: ObjectType) {
        self.limit = limit
        self.droppable = droppable
    }

    subscript(index: Int) -> GitObject? { objects[index] }

    mutating func insert(_ object: GitObject, at index: Int) {
        objects[index] = object
        guard object.type == droppable else { return }
        order.append(index)
        bytes += object.data.count
        while bytes > limit, head < order.count {
            let oldest = order[head]
            head += 1
            if let dropped = objects.removeValue(forKey: oldest) { bytes -= dropped.data.count }
        }
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
