// OPENDIR, READDIR(PLUS), RELEASEDIR. A listing merges the directory's layers top-down: each
// name appears once, from the highest layer that has it; whiteouts hide the name in every
// layer below and are never listed; an opaque directory ends the merge (resolution already
// cut its layer list there). The listing is a snapshot with cookies 1...n, so a directory read
// in several calls while it changes neither loops nor skips entries that did not change.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    /// The merged entries of the directory at `path` present in `layers` (no "." or "..").
    func mergedListing(path: [UInt8], layers: [LayerIndex]) throws(Errno) -> [DirectoryEntry] {
        var seen = Set<[UInt8]>()
        var entries: [DirectoryEntry] = []
        for index in layers {
            let source = layer(index)
            let listed: [HostDirectoryEntry]
            do { listed = try source.list(path) } catch .noSuchFileOrDirectory { continue } catch .notDirectory { continue }
            for entry in listed where !seen.contains(entry.name) {
                seen.insert(entry.name)
                if entry.direntType == 2 || entry.direntType == 0,  // DT_CHR, or DT_UNKNOWN: check
                   let stat = try? source.stat(join(path, entry.name)), OverlayFormat.isWhiteout(stat) {
                    continue
                }
                entries.append(DirectoryEntry(name: entry.name, inode: reportedInode(layer: index, inode: entry.inode),
                                              type: UInt32(entry.direntType), nextOffset: 0))
            }
        }
        return entries
    }

    public func openDirectory(_ ctx: RequestContext, inode: InodeNumber, flags: UInt32) throws(Errno) -> OpenResult {
        _ = try locateDirectory(inode)
        let handle = state.withLock { s in
            s.table[inode]?.openHandles += 1
            return s.handles.insert(.directory(DirectorySnapshot(node: inode, entries: nil)))
        }
        // Let the kernel cache listings across opens: every change to a directory goes through
        // this mount, and the kernel drops its cached listing when it sees one (fuse_dir_changed).
        return OpenResult(handle: handle, flags: [.cacheDirectory, .keepCache])
    }

    public func readDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                              emit: (DirectoryEntry) -> Bool) throws(Errno) {
        let cached: [DirectoryEntry]? = try state.withLock { (s) throws(Errno) -> [DirectoryEntry]? in
            guard case .directory(let snapshot)? = s.handles[handle] else { throw .badFileDescriptor }
            return offset == 0 ? nil : snapshot.entries
        }
        let entries: [DirectoryEntry]
        if let cached {
            entries = cached
        } else {
            entries = try snapshot(inode)
            state.withLock { s in
                if case .directory(var snapshot)? = s.handles[handle] {
                    snapshot.entries = entries
                    s.handles[handle] = .directory(snapshot)
                }
            }
        }
        guard offset < UInt64(entries.count) else { return }
        for entry in entries[Int(offset)...] {
            if !emit(entry) { return }
        }
    }

    /// ".", ".." and the merged entries, numbered with their cookies.
    private func snapshot(_ inode: InodeNumber) throws(Errno) -> [DirectoryEntry] {
        let (node, path) = try locateDirectory(inode)
        let dot = DirectoryEntry(name: [0x2e], inode: node.reportedInode, type: 4, nextOffset: 0)
        // glibc's readdir skips entries with inode 0, so ".." needs a real number.
        let parentInode = state.withLock { $0.table[node.parent]?.reportedInode } ?? node.reportedInode
        let dotdot = DirectoryEntry(name: [0x2e, 0x2e], inode: parentInode, type: 4, nextOffset: 0)
        var entries = [dot, dotdot] + (try mergedListing(path: path, layers: node.directoryLayers))
        for index in entries.indices { entries[index].nextOffset = UInt64(index + 1) }
        return entries
    }

    public func releaseDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) {
        state.withLock { s in
            guard case .directory(let snapshot)? = s.handles.remove(handle) else { return }
            s.table[snapshot.node]?.openHandles -= 1
            s.table.releaseIfUnused(snapshot.node)
        }
    }

    public func synchronizeDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, dataOnly: Bool) throws(Errno) {
        let (node, path) = try locateDirectory(inode)
        guard node.layer == 0 else { return }  // nothing of ours to flush in a read-only layer
        let fd = try upper.root.open(at: HostDirectoryLayer.relative(path), flags: O_RDONLY_VALUE | O_DIRECTORY_VALUE)
        defer { fd.closeQuietly() }
        try fd.synchronize(dataOnly: dataOnly)
    }
}
