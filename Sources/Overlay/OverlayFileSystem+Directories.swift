// OPENDIR, READDIR(PLUS), RELEASEDIR. A listing merges the directory's layers top-down: each
// name appears once, from the highest layer that has it; whiteouts hide the name in every
// layer below and are never listed; an opaque directory ends the merge (resolution already
// cut its layer list there).
//
// Listings need no per-open state: an entry's cookie is a hash of its name, and a listing is
// served in cookie order, so READDIR at a cookie continues after that name whatever changed in
// between (no loops, and no unchanged entry skipped or repeated, as with ext4's hash order).
// OPENDIR therefore answers ENOSYS: the kernel stops sending OPENDIR and RELEASEDIR (two round
// trips per directory opened) and keeps listings in its own cache (FOPEN_KEEP_CACHE and
// FOPEN_CACHE_DIR, its defaults without OPENDIR), dropping them when a change goes through the
// mount.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    /// The merged entries of the directory at `path` present in `layers` (no "." or "..").
    /// With `reportingOrigins` (READDIR, where the numbers are shown) an upper entry that
    /// was copied up lists the inode number `stat` reports
    /// (its origin), as overlayfs keeps d_ino and st_ino the same; callers that only look at
    /// names (emptiness checks, copying a tree up) skip that getxattr per name.
    func mergedListing(path: [UInt8], layers: [LayerIndex], reportingOrigins: Bool = false) throws(Errno) -> [DirectoryEntry] {
        var seen = Set<[UInt8]>()
        var entries: [DirectoryEntry] = []
        var upperCount = 0
        var lowerNames = Set<[UInt8]>()
        for index in layers {
            let source = layer(index)
            let listed: [HostDirectoryEntry]
            do { listed = try source.list(path) } catch .noSuchFileOrDirectory { continue } catch .notDirectory { continue }
            if reportingOrigins && index != 0 { for entry in listed { lowerNames.insert(entry.name) } }
            for entry in listed where !seen.contains(entry.name) {
                seen.insert(entry.name)
                if entry.direntType == 2 || entry.direntType == 0,  // DT_CHR, or DT_UNKNOWN: check
                   let stat = try? source.stat(join(path, entry.name)), OverlayFormat.isWhiteout(stat) {
                    continue
                }
                entries.append(DirectoryEntry(name: entry.name, inode: reportedInode(layer: index, inode: entry.inode),
                                              type: UInt32(entry.direntType), nextOffset: 0))
            }
            if index == 0 { upperCount = entries.count }
        }
        // Only names a lower has too can be copy-ups (one getxattr each), and in an impure
        // directory (one a rename moved copy-ups into) every upper name.
        let impure = reportingOrigins && upperCount > 0 && OverlayFormat.isImpure(upper, path)
        for position in 0..<upperCount where impure || lowerNames.contains(entries[position].name) {
            if let origin = OverlayFormat.origin(upper, join(path, entries[position].name)) { entries[position].inode = origin }
        }
        return entries
    }

    public func openDirectory(_ ctx: RequestContext, inode: InodeNumber, flags: UInt32) throws(Errno) -> OpenResult {
        throw .noFunction  // see the top of this file
    }

    /// Entries after `offset` (a cookie; 0 is the start) in cookie order. The handle is unused.
    public func readDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                              emit: (DirectoryEntry) -> Bool) throws(Errno) {
        let entries = try listing(inode)
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].nextOffset <= offset { low = middle + 1 } else { high = middle }
        }
        for entry in entries[low...] {
            if !emit(entry) { return }
        }
    }

    /// The directory's listing in cookie order, from the cache while none of its names changed
    /// since it was built. The cache saves merging the layers again for every READDIR call of
    /// a large directory.
    func listing(_ inode: InodeNumber) throws(Errno) -> [DirectoryEntry] {
        let (cached, start) = listings.withLock { ($0.entries(of: inode), $0.changeCount) }
        if let cached { return cached }
        let entries = try cookieOrdered(inode)
        listings.withLock { $0.store(entries, of: inode, mergedAfter: start) }
        return entries
    }

    /// ".", ".." (cookies 1 and 2) and the merged entries, each with its name's cookie.
    private func cookieOrdered(_ inode: InodeNumber) throws(Errno) -> [DirectoryEntry] {
        let (node, path) = try locateDirectory(inode)
        let dot = DirectoryEntry(name: [0x2e], inode: node.reportedInode, type: 4, nextOffset: 1)
        // glibc's readdir skips entries with inode 0, so ".." needs a real number.
        let parentInode = state.withLock { $0.table[node.parent]?.reportedInode } ?? node.reportedInode
        let dotdot = DirectoryEntry(name: [0x2e, 0x2e], inode: parentInode, type: 4, nextOffset: 2)
        var merged = try mergedListing(path: path, layers: node.directoryLayers, reportingOrigins: true)
        for index in merged.indices { merged[index].nextOffset = listingCookie(of: merged[index].name) }
        merged.sort { a, b in
            a.nextOffset != b.nextOffset ? a.nextOffset < b.nextOffset : a.name.lexicographicallyPrecedes(b.name)
        }
        // Two names with one hash (about 1 in 2^63 per pair): the later one takes the next free
        // value, so cookies stay unique; only such a pair can be skipped or repeated.
        for index in merged.indices.dropFirst() where merged[index].nextOffset <= merged[index - 1].nextOffset {
            merged[index].nextOffset = merged[index - 1].nextOffset + 1
        }
        return [dot, dotdot] + merged
    }


    /// Never sent to us (OPENDIR answers ENOSYS); nothing to release.
    public func releaseDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) {}

    public func synchronizeDirectory(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, dataOnly: Bool) throws(Errno) {
        let (node, path) = try locateDirectory(inode)
        guard node.layer == 0 else { return }  // nothing of ours to flush in a read-only layer
        let fd = try upper.root.open(at: HostDirectoryLayer.relative(path), flags: O_RDONLY_VALUE | O_DIRECTORY_VALUE | O_NOFOLLOW_VALUE)
        defer { fd.closeQuietly() }
        try fd.synchronize(dataOnly: dataOnly)
    }
}
