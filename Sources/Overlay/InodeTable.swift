// Node ids and lookup counts, in one place. A node remembers its parent and name (so its path
// can be rebuilt without a descriptor per inode), which layer holds its visible copy, and for a
// directory which lower layers merge beneath it. Nodes go away when the kernel forgets them
// and no handle is open, so a walk over a million files does not grow memory without bound.
import FUSEWire
import ScorpioSys
import SystemPackage

/// Index into the overlay's layer list: 0 is the upper layer, 1... the lowers, highest first.
typealias LayerIndex = Int

/// Identity of a host file: which layer and which inode there. Two names for one upper inode
/// (hard links) share a node through this key.
struct HostKey: Hashable {
    var layer: LayerIndex
    var device: UInt64
    var inode: UInt64
    /// 0, except for a lower non-directory with several links: there each name is its own
    /// node (a hash of its parent and name). A FUSE request names a node, not the name it was
    /// opened by, and each name of a lower hard link is copied up on its own (as on overlayfs
    /// without index=on): writing through one name must not copy up, and change, another.
    var link: UInt64 = 0
}

/// What the overlay knows about one node id.
struct Node {
    /// The names this node is known under (several for hard links); the first one is used to
    /// build its path. Empty once every known name was removed.
    var links: [NameKey]
    var lookups: UInt64
    var openHandles: Int
    /// How many of them are in the kernel's caching io mode (OpenFile.cachedMode).
    var cachedHandles = 0
    /// The layer holding the visible copy.
    var layer: LayerIndex
    /// For a merged directory, the lower layers below `layer` whose directories show through.
    var lowerDirectories: [LayerIndex]
    var isDirectory: Bool
    /// st_ino as reported; fixed for the node's life, so copy-up does not change it.
    var reportedInode: UInt64
    /// st_size when first looked up. Lowers never change, so while `layer` is a lower layer
    /// this is the file's size (OPEN decides on it without a stat).
    var lowerSize: UInt64
    var key: HostKey
    /// True once every known name was removed; the node lives on while the kernel or a handle holds it.
    var unlinked: Bool { links.isEmpty }
    /// The directory holding the node's first name.
    var parent: InodeNumber { links.first?.parent ?? .root }
    /// The node's first name.
    var name: [UInt8] { links.first?.name ?? [] }
    /// The passthrough backing file registered for this node, shared by its open handles
    /// (the kernel refuses a second, different backing file for an inode in use).
    var backing: (id: BackingID, layer: LayerIndex, users: Int)?
    /// The descriptor for handle-less I/O (OverlayOptions.noOpen), if one is cached.
    var descriptor: NodeDescriptor? = nil
    /// A lower file's path from before it lost its last name (noOpen mode): its data is still
    /// there for a program that has it open.
    var detachedLowerPath: [UInt8]? = nil
    /// Its content was stored in the kernel's page cache at an OPEN (OpenResult.prefill). The
    /// kernel keeps it until it forgets the inode (and this node with it) or needs the memory,
    /// when READ serves the file again.
    var prefilled = false

    /// Layers to search for this directory's children, in order.
    var directoryLayers: [LayerIndex] { [layer] + lowerDirectories }
}

/// The node table. Not thread-safe by itself: the overlay keeps it inside a Mutex.
struct InodeTable {
    private(set) var nodes: [InodeNumber: Node] = [:]
    private var byKey: [HostKey: InodeNumber] = [:]
    /// The linked node under each (parent, name), for rename and unlink.
    private var byName: [NameKey: InodeNumber] = [:]
    private var nextID: UInt64 = 2

    init(root: Node) {
        nodes[.root] = root
        byKey[root.key] = .root
    }

    subscript(_ id: InodeNumber) -> Node? {
        get { nodes[id] }
        set { nodes[id] = newValue }
    }

    /// Finds or creates the node for a resolved child, adding one lookup reference.
    mutating func reference(parent: InodeNumber, name: [UInt8], resolved: Resolved, reportedInode: UInt64) -> (InodeNumber, Node) {
        var key = resolved.key
        if resolved.layer != 0, resolved.stat.linkCount > 1, resolved.stat.fileType != .directory {
            key.link = (fnv1a(name) ^ (parent.rawValue &* 0x9E37_79B9_7F4A_7C15)) | 1
        }
        if let existing = byKey[key], var node = nodes[existing] {
            node.lookups += 1
            // An upper hard link (a lower one has a node per name, see HostKey.link) or a node
            // seen again under a new name: keep the live name current.
            node.layer = resolved.layer
            node.lowerDirectories = resolved.lowerDirectories
            let nameKey = NameKey(parent: parent, name: name)
            if !node.links.contains(nameKey) {
                if node.isDirectory { node.links.removeAll() }  // a directory has one name
                // Names in directories the kernel forgot lead nowhere now (liveLink).
                for dangling in node.links where dangling.parent != .root && nodes[dangling.parent] == nil {
                    if byName[dangling] == existing { byName[dangling] = nil }
                }
                node.links.removeAll { $0.parent != .root && nodes[$0.parent] == nil }
                node.links.append(nameKey)
                byName[nameKey] = existing
            }
            nodes[existing] = node
            return (existing, node)
        }
        let id = InodeNumber(nextID)
        nextID += 1
        let node = Node(links: [NameKey(parent: parent, name: name)], lookups: 1, openHandles: 0, layer: resolved.layer,
                        lowerDirectories: resolved.lowerDirectories, isDirectory: resolved.stat.fileType == .directory,
                        reportedInode: reportedInode, lowerSize: resolved.stat.size, key: key, backing: nil)
        nodes[id] = node
        byKey[key] = id
        byName[NameKey(parent: parent, name: name)] = id
        return (id, node)
    }

    /// A node for an upper file that has no name yet (O_TMPFILE), with one lookup reference.
    /// It is not findable by host identity until `name(_:as:)` links it: its host inode
    /// number is free for reuse once the file is closed unnamed.
    mutating func referenceUnnamed(resolved: Resolved, reportedInode: UInt64) -> InodeNumber {
        let id = InodeNumber(nextID)
        nextID += 1
        nodes[id] = Node(links: [], lookups: 1, openHandles: 0, layer: resolved.layer, lowerDirectories: [],
                         isDirectory: false, reportedInode: reportedInode, lowerSize: resolved.stat.size,
                         key: resolved.key, backing: nil)
        return id
    }

    /// Gives an unnamed node its first name (a LINK of an O_TMPFILE file), with one more
    /// lookup reference for the LINK reply.
    mutating func name(_ id: InodeNumber, as nameKey: NameKey) {
        guard var node = nodes[id] else { return }
        node.links = [nameKey]
        node.lookups += 1
        nodes[id] = node
        byName[nameKey] = id
        byKey[node.key] = id
    }

    /// Points a node at a new host identity (after copy-up or rename across layers).
    mutating func rekey(_ id: InodeNumber, to key: HostKey) {
        guard var node = nodes[id] else { return }
        if byKey[node.key] == id { byKey[node.key] = nil }
        node.key = key
        nodes[id] = node
        byKey[key] = id
    }

    /// Drops `count` lookup references; frees the node when nothing holds it any more.
    /// Returns true when the tables were compacted (compactIfSparse): the caller then gives
    /// freed memory back to the system.
    mutating func forget(_ id: InodeNumber, count: UInt64) -> Bool {
        guard id != .root, var node = nodes[id] else { return false }
        node.lookups = node.lookups > count ? node.lookups - count : 0
        nodes[id] = node
        releaseIfUnused(id)
        return compactIfSparse()
    }

    /// Swift dictionaries keep their capacity when elements go: after a walk of a million
    /// files that the kernel then forgets (memory pressure, drop_caches), the tables would
    /// keep their peak size for the life of the mount. They are rebuilt to fit once at most a
    /// quarter full; each rebuild copies at most a quarter of the capacity the shrinking
    /// freed, so the cost per forgotten node stays constant.
    private mutating func compactIfSparse() -> Bool {
        guard nodes.capacity >= Self.compactionMinimumCapacity, nodes.count * 4 <= nodes.capacity else { return false }
        nodes = Self.compacted(nodes)
        byKey = Self.compacted(byKey)
        byName = Self.compacted(byName)
        return true
    }

    static let compactionMinimumCapacity = 1 << 16

    private static func compacted<Key: Hashable, Value>(_ table: [Key: Value]) -> [Key: Value] {
        var copy = [Key: Value](minimumCapacity: table.count)
        for (key, value) in table { copy[key] = value }
        return copy
    }

    /// Frees a node with no lookups and no open handles.
    mutating func releaseIfUnused(_ id: InodeNumber) {
        guard id != .root, let node = nodes[id], node.lookups == 0, node.openHandles == 0 else { return }
        nodes[id] = nil
        if byKey[node.key] == id { byKey[node.key] = nil }
        for link in node.links where byName[link] == id { byName[link] = nil }
    }

    /// Marks the node under (parent, name) as removed, if one is known.
    mutating func markUnlinked(parent: InodeNumber, name: [UInt8]) {
        let nameKey = NameKey(parent: parent, name: name)
        guard let id = byName[nameKey] else { return }
        byName[nameKey] = nil
        nodes[id]?.links.removeAll { $0 == nameKey }
        // A removed file's host inode number is reused by the filesystem for the next new
        // file; that file must get a node of its own, not this one.
        if let node = nodes[id], node.unlinked, byKey[node.key] == id { byKey[node.key] = nil }
        releaseIfUnused(id)
    }

    /// Renames one of a node's names.
    mutating func move(from old: NameKey, to new: NameKey) {
        guard let id = byName[old], var node = nodes[id] else { return }
        byName[old] = nil
        node.links = node.links.map { $0 == old ? new : $0 }
        nodes[id] = node
        byName[new] = id
    }

    /// The known, linked node under a name.
    func child(of parent: InodeNumber, named name: [UInt8]) -> InodeNumber? {
        byName[NameKey(parent: parent, name: name)]
    }

    /// The node's path relative to every layer root: names joined by '/' up to the root.
    func path(of id: InodeNumber) throws(Errno) -> [UInt8] {
        var names: [[UInt8]] = []
        var current = id
        var depth = 0
        while current != .root {
            guard let node = nodes[current], let link = liveLink(of: node) else { throw .staleNFSFileHandle }
            names.append(link.name)
            current = link.parent
            depth += 1
            if depth > 4096 { throw .tooManySymbolicLinkLevels }  // a cycle would be a bug; never spin
        }
        var path: [UInt8] = []
        for name in names.reversed() {
            if !path.isEmpty { path.append(UInt8(ascii: "/")) }
            path.append(contentsOf: name)
        }
        return path
    }

    /// The first of a node's names whose directory is still known. A name of a hard link can
    /// outlive its directory's node: the kernel forgets a directory whose dentries it dropped
    /// while the file stays known (and open) through another name in another directory.
    private func liveLink(of node: Node) -> NameKey? {
        node.links.first { $0.parent == .root || nodes[$0.parent] != nil }
    }

    /// Closes every node's handle-less descriptor (session end).
    mutating func dropNodeDescriptors() {
        for id in Array(nodes.keys) where nodes[id]?.descriptor != nil { nodes[id]?.descriptor = nil }
    }

    /// Number of live nodes (for statistics and tests).
    var count: Int { nodes.count }
}

/// A name inside a directory.
struct NameKey: Hashable {
    var parent: InodeNumber
    var name: [UInt8]

    /// The name's bytes in one piece: the synthesized hash combined them one at a time.
    func hash(into hasher: inout Hasher) {
        hasher.combine(parent)
        name.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// Joins a directory path and a name.
func join(_ directory: [UInt8], _ name: [UInt8]) -> [UInt8] {
    if directory.isEmpty { return name }
    var path = directory
    path.append(UInt8(ascii: "/"))
    path.append(contentsOf: name)
    return path
}

/// The directory part of a path made by `join` (empty for a name in the root).
func parentPath(of path: [UInt8]) -> [UInt8] {
    guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return [] }
    return Array(path[..<slash])
}

extension InodeTable {
    /// Whether `candidate` sits somewhere below the directory `ancestor`.
    func isDescendant(_ candidate: InodeNumber, of ancestor: InodeNumber) -> Bool {
        var current = candidate
        var depth = 0
        while current != .root, let node = nodes[current], !node.unlinked, depth < 4096 {
            if node.parent == ancestor { return true }
            current = node.parent
            depth += 1
        }
        return false
    }
}
