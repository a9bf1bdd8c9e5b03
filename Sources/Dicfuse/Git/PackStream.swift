// A pack parsed while it arrives: each object is handed out as soon as its entry has arrived and
// its delta base is known, so memory holds the bytes not read yet and a bounded set of delta
// bases (DeltaResolver), never the whole pack or all of its content. The trailer is checked
// only at the end (finish): the caller undoes what it did with the objects when anything fails.

/// Objects of a pack that is arriving.
struct PackStream {
    private var reader = PackEntryReader()
    private var resolver: DeltaResolver
    private var index = 0

    /// - Parameters:
    ///   - baseCacheBytes: how much of the resolved objects to keep as delta bases.
    ///   - droppable: the type of object the cache may drop, the one `loadBase` can read back.
    ///   - loadBase: reads back a base the cache dropped (its id is checked).
    init(baseCacheBytes: Int, droppable: ObjectType = .blob, loadBase: @escaping (ObjectID) -> GitObject?) {
        resolver = DeltaResolver(baseCacheBytes: baseCacheBytes, droppable: droppable, loadBase: loadBase)
    }

    /// The object count the pack's header declares, once its first 12 bytes are there.
    var declaredCount: Int? { reader.count }

    /// More of the pack; hands out the objects it completes.
    /// - Throws: `PackError`, or what `deliver` throws.
    mutating func append(_ bytes: ArraySlice<UInt8>, deliver: (GitObject) throws -> Void) throws {
        reader.append(bytes)
        while let entry = try reader.next() { try add(entry, deliver: deliver) }
    }

    /// The pack has arrived: reads what is left, checks the trailer, and resolves what waits
    /// on bases outside the pack (there are none for us: no thin packs are asked for).
    mutating func finish(deliver: (GitObject) throws -> Void) throws {
        for entry in try reader.finish() { try add(entry, deliver: deliver) }
        try resolver.finish(externalBase: { _ in nil }) { _, object in try deliver(object) }
    }

    private mutating func add(_ entry: PackEntry, deliver: (GitObject) throws -> Void) throws {
        try resolver.add(entry, index: index) { _, object in try deliver(object) }
        index += 1
    }
}
