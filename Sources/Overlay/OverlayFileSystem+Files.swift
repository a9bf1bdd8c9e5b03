// OPEN and the operations on open files. Opening for writing (or with O_TRUNC) copies a lower
// file up first. Regular files are registered as passthrough backing files when the session
// allows it, so the kernel reads and writes them itself; otherwise READ and WRITE go through
// the handle's host descriptor.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    /// Host open flags from the kernel's: creation flags are ours to decide, and O_APPEND is
    /// dropped because the kernel sends explicit offsets (pwrite on an O_APPEND descriptor
    /// would ignore them on Linux).
    func hostOpenFlags(_ flags: UInt32) -> Int32 {
        let host = Int32(bitPattern: flags) & ~(O_CREAT_VALUE | O_EXCL_VALUE | O_NOCTTY_VALUE | O_APPEND_VALUE)
        // With the writeback cache the kernel reads a page before writing part of it, through
        // whatever handle the writer has, a write-only one too: such handles need reads.
        guard options.writebackCache, host & O_ACCMODE_VALUE == O_WRONLY_VALUE else { return host }
        return (host & ~O_ACCMODE_VALUE) | O_RDWR_VALUE
    }

    public func open(_ ctx: RequestContext, inode: InodeNumber, flags: UInt32) throws(Errno) -> OpenResult {
        let hostFlags = hostOpenFlags(flags)
        let writing = hostFlags & O_ACCMODE_VALUE != O_RDONLY_VALUE || hostFlags & O_TRUNC_VALUE != 0
        var (node, path) = try locate(inode)
        if node.isDirectory { throw .isDirectory }
        if !writing, node.layer != 0, node.lowerSize < OverlayFileSystem.passthroughMinimumLowerSize {
            // Small lower files are served from FUSE's page cache (FOPEN_KEEP_CACHE) instead of
            // passthrough: a passthrough read marks atime stale (fs/fuse/passthrough.c), so the
            // next fstat costs a GETATTR round trip, and every open makes the kernel open the
            // backing file again. Measured here on 100k small files, warm `tar` of all of them:
            // 9.4 s from the page cache, 16.6 s through passthrough. The size is known from
            // the lookup, so no stat. A warm file is never READ: where content outlives its
            // descriptors (host directories) the host file is opened only when a READ comes,
            // which saves an open and a close per open of a cached file (a build opening
            // headers). Dicfuse pins the blob instead, so `cache gc` keeps it (ContentHold).
            let lower = layer(node.layer)
            let hold = try lower.holdContent(path)
            let descriptor = hold == nil ? try lower.openForReading(path) : nil
            let handle = insertHandle(OpenFile(node: inode, descriptor: descriptor, layer: node.layer, backing: nil,
                                               lowerPath: descriptor == nil ? path : nil, cachedMode: true, hold: hold))
            let prefill = claimPrefill(ctx, node: inode, size: node.lowerSize, openFlags: hostFlags)
            if prefill > 0, let notifier = ctx.notifier { prefillSiblingsAhead(of: inode, notifier: notifier) }
            return OpenResult(handle: handle, flags: [.keepCache], prefill: prefill)
        }
        if writing, node.layer != 0 {
            // Passed through to its lower copy for a reader: this open could not pass through
            // to the upper copy (registerOpenFile), so no copy-up for it either.
            if options.passthrough, state.withLock({ $0.table[inode]?.backing?.layer }) == node.layer { throw refusedWhilePassedThrough(inode) }
            path = try changingNamespace { () throws(Errno) -> [UInt8] in
                try copyUp(inode, withData: hostFlags & O_TRUNC_VALUE == 0)
            }
            node.layer = 0
            invalidateChangedAttributes(ctx)
        }
        let descriptor: FileDescriptor
        if node.layer == 0 {
            do {
                descriptor = try upper.root.open(at: path, flags: hostFlags | O_NOFOLLOW_VALUE)
            } catch .permissionDenied where Int32(bitPattern: flags) & O_ACCMODE_VALUE == O_WRONLY_VALUE && hostFlags & O_ACCMODE_VALUE == O_RDWR_VALUE {
                // A daemon that is not root may not read a write-only file: the descriptor the
                // writeback cache wanted (hostOpenFlags) becomes write-only, as asked.
                descriptor = try upper.root.open(at: path, flags: (hostFlags & ~O_ACCMODE_VALUE) | O_WRONLY_VALUE | O_NOFOLLOW_VALUE)
            }
        } else {
            descriptor = try layer(node.layer).openForReading(path)
        }
        return try registerOpenFile(ctx, node: inode, descriptor: descriptor, layer: node.layer)
    }

    /// How much of a small lower file (under passthroughMinimumLowerSize, see open) to store in
    /// the kernel's page cache with this OPEN (OpenResult.prefill): all of it, once per node,
    /// when the transport can store pages and the program does not bypass the page cache (O_DIRECT).
    func claimPrefill(_ ctx: RequestContext, node id: InodeNumber, size: UInt64, openFlags: Int32) -> Int {
        guard ctx.notifier != nil, size > 0, openFlags & O_DIRECT_VALUE == 0 else { return 0 }
        return state.withLock { s in
            guard var node = s.table[id], !node.prefilled else { return 0 }
            node.prefilled = true
            s.table[id] = node
            return Int(size)
        }
    }

    /// Stores an open descriptor (an upper file, or a lower file of 1 MiB or more) as a handle
    /// and decides between passthrough and READ/WRITE. Takes ownership of `descriptor`.
    func registerOpenFile(_ ctx: RequestContext, node id: InodeNumber, descriptor: FileDescriptor, layer index: LayerIndex) throws(Errno) -> OpenResult {
        var flags: OpenReplyFlags = index == 0 ? [] : [.keepCache]  // lower files never change under us
        var backing: BackingID? = nil
        let stat = try? descriptor.stat()
        // A passthrough write runs with our credentials, which keep setuid/setgid bits; files
        // that carry them are written through WRITE requests, where dropSetIDBits applies.
        let carriesSetIDBits = (stat?.permissions ?? 0) & 0o6000 != 0
        let (cachedOpens, backingLayer) = state.withLock { s in (s.table[id]?.cachedHandles ?? 0, s.table[id]?.backing?.layer) }
        let passedThrough = backingLayer != nil
        // The kernel fails with EIO any open of an inode that has passthrough opens unless it
        // passes through as well: a file made setuid while open for writing (passed through)
        // keeps passing through for reading.
        var mayPassThrough = !carriesSetIDBits || (backingLayer == index && !descriptor.isOpenForWriting)
        if carriesSetIDBits, backingLayer == index, !mayPassThrough {
            // Open for writing already, with passthrough, and now opened for writing again:
            // this open must pass through as well, where a write keeps the bits, so they go
            // now for a caller who would lose them at the first write (not root).
            if ctx.uid != 0, (try? dropSetIDBits(of: descriptor, caller: ctx)) == true { ctx.notifier?.invalidateAttributes(id) }
            mayPassThrough = true
        }
        if options.passthrough, mayPassThrough, let registrar = ctx.passthrough, stat?.fileType == .regular {
            if cachedOpens > 0 {
                // Still open in caching mode from before a copy-up (a small lower file): the
                // kernel refuses passthrough then, failing the open with EIO. Caching mode
                // too: this open drops the old pages (no KEEP_CACHE), the old opens' READs
                // follow the copy-up (followCopyUp), and writes go through the shared page
                // cache, so a reader that kept the file open sees them.
                flags = []
            } else {
                switch acquireBacking(id, descriptor: descriptor, layer: index, registrar: registrar) {
                case .registered(let backingID):
                    backing = backingID
                    flags = [.passthrough]
                case .otherFileInUse:
                    break  // refused below
                case .refused:
                    break  // READ/WRITE replies with the normal page cache
                }
            }
        }
        if passedThrough, !flags.contains(.passthrough) {
            // The inode passes through to another file (its lower copy, for a reader of a file
            // of 1 MiB or more, while this open wants the upper copy), or this open may not pass
            // through (writing a setuid file), and the kernel fails any open of a passed-through
            // inode that does not pass through too with EIO: busy, said in a log line.
            descriptor.closeQuietly()
            throw refusedWhilePassedThrough(id)
        }
        let cachedMode = flags.isDisjoint(with: [.passthrough, .directIO])
        let handle = insertHandle(OpenFile(node: id, descriptor: descriptor, layer: index, backing: backing, cachedMode: cachedMode))
        return OpenResult(handle: handle, flags: flags, backingID: backing)
    }

    /// ETXTBSY, logged, for an open the kernel would fail with EIO: the inode passes through to
    /// a backing file this open may not use.
    private func refusedWhilePassedThrough(_ id: InodeNumber) -> Errno {
        logger.info("open refused while the file is open with passthrough", metadata: ["inode": "\(id)"])
        return .textFileBusy
    }

    /// Registers an open file as a handle; its node stays alive until the handle is released.
    private func insertHandle(_ file: OpenFile) -> FileHandleID {
        state.withLock { s in
            s.table[file.node]?.openHandles += 1
            if file.cachedMode { s.table[file.node]?.cachedHandles += 1 }
            return s.handles.insert(file)
        }
    }

    /// The outcome of asking for a passthrough backing file.
    enum BackingOutcome {
        case registered(BackingID)
        /// The node is passed through to another layer's file already.
        case otherFileInUse
        /// The kernel refused (e.g. no CAP_SYS_ADMIN): serve with READ/WRITE.
        case refused
    }

    /// The node's backing id for `layer`, registering one if the node has none.
    private func acquireBacking(_ id: InodeNumber, descriptor: FileDescriptor, layer index: LayerIndex,
                                registrar: any BackingFileRegistrar) -> BackingOutcome {
        state.withLock { s -> BackingOutcome in
            guard var node = s.table[id] else { return .refused }
            if let existing = node.backing {
                guard existing.layer == index else { return .otherFileInUse }
                node.backing = (existing.id, index, existing.users + 1)
                s.table[id] = node
                return .registered(existing.id)
            }
            guard let backingID = try? registrar.open(descriptor) else {
                logger.debug("passthrough refused by the kernel; using READ/WRITE", metadata: ["inode": "\(id)"])
                return .refused
            }
            node.backing = (backingID, index, 1)
            s.table[id] = node
            return .registered(backingID)
        }
    }

    /// The open file behind a handle, opening its host file now if OPEN deferred that.
    func openFile(_ handle: FileHandleID) throws(Errno) -> ReadyFile {
        let (file, copiedUp) = try state.withLock { (s) throws(Errno) -> (OpenFile, Bool) in
            guard let file = s.handles[handle] else { throw .badFileDescriptor }
            return (file, file.layer != 0 && !file.followsUpper && file.backing == nil && s.table[file.node]?.layer == 0)
        }
        if copiedUp, let followed = try? followCopyUp(handle, file) { return followed }
        if let descriptor = file.descriptor {
            return ReadyFile(node: file.node, descriptor: descriptor, layer: file.layer, lowerPath: file.lowerPath)
        }
        guard let path = file.lowerPath else { throw .badFileDescriptor }
        let opened = try layer(file.layer).openForReading(path)
        // Concurrent READs of one handle may both get here: the first stored descriptor wins.
        let kept = state.withLock { s -> FileDescriptor? in
            guard var stored = s.handles[handle] else { return nil }
            if let existing = stored.descriptor { return existing }
            stored.descriptor = opened
            s.handles[handle] = stored
            return opened
        }
        if kept != opened { opened.closeQuietly() }
        guard let kept else { throw .badFileDescriptor }  // released meanwhile
        return ReadyFile(node: file.node, descriptor: kept, layer: file.layer, lowerPath: path)
    }

    /// A handle opened on a lower file that another open has copied up since reads the upper
    /// copy from then on, as on overlayfs (4.19+): a reader that kept a file open sees what a
    /// writer changed. Not a passthrough handle (a lower file of 1 MiB or more): the kernel
    /// reads its backing file itself, and that stays the lower one for the open's life.
    private func followCopyUp(_ handle: FileHandleID, _ file: OpenFile) throws(Errno) -> ReadyFile {
        let opened: FileDescriptor
        if let (_, path) = try? locate(file.node) {
            opened = try upper.root.open(at: path, flags: O_RDONLY_VALUE | O_NOFOLLOW_VALUE)
        } else {
            // Deleted since: the copy's descriptor kept for this (keepUnlinkedReachable).
            let kept = state.withLock { $0.table[file.node]?.descriptor.flatMap { $0.layer == 0 ? $0.descriptor : nil } }
            guard let copy = kept.flatMap({ try? $0.duplicate() }) else { throw .staleNFSFileHandle }
            opened = copy
        }
        let kept = state.withLock { s -> FileDescriptor? in
            guard var stored = s.handles[handle] else { return nil }
            if stored.followsUpper { return stored.descriptor }  // a concurrent READ came first
            if let old = stored.descriptor { stored.retired.append(old) }
            stored.descriptor = opened
            stored.lowerPath = nil
            stored.followsUpper = true
            s.handles[handle] = stored
            return opened
        }
        if kept != opened { opened.closeQuietly() }
        guard let kept else { throw .badFileDescriptor }  // released meanwhile
        return ReadyFile(node: file.node, descriptor: kept, layer: file.layer)
    }

    public func read(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                     into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let file = try file(ctx, handle, inode: inode, writing: false)
        var total = 0
        if BlockingHint.isInstalled {
            // Asked before the read below: a RWF_NOWAIT read that misses starts the disk read,
            // and the pages in flight would count as cached afterwards. RWF_NOWAIT also gives
            // up on cached pages (a readahead mark), so it cannot tell by itself.
            if let path = file.lowerPath, layer(file.layer).readsAhead,
               file.descriptor.hasCachedPages(offset: Int64(offset), length: buffer.count) != true {
                layer(file.layer).contentMissedPageCache(path)
            }
            // What the page cache holds is answered at once; a read that has to wait for the
            // disk lets another worker read requests first.
            // A short read is the end of the file, or the end of what is cached: ask again.
            while total < buffer.count,
                  let cached = try file.descriptor.readIfCached(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]),
                                                                at: Int64(offset) + Int64(total)) {
                if cached == 0 { return total }
                total += cached
            }
            if total == buffer.count { return total }
            BlockingHint.willBlock()
            return total + (try readFully(file.descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]),
                                          at: Int64(offset) + Int64(total)))
        }
        return try readFully(file.descriptor, into: buffer, at: Int64(offset))
    }

    /// Reads until `buffer` is full or the file ends.
    func readFully(_ descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(Errno) -> Int {
        var total = 0
        while total < buffer.count {
            let count = try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]), at: offset + Int64(total))
            if count == 0 { break }
            total += count
        }
        return total
    }

    public func write(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                      data: UnsafeRawBufferPointer) throws(Errno) -> Int {
        let file = try file(ctx, handle, inode: inode, writing: true)
        guard file.layer == 0 else { throw .badFileDescriptor }
        var total = 0
        while total < data.count {
            total += try file.descriptor.write(UnsafeRawBufferPointer(rebasing: data[total...]), at: Int64(offset) + Int64(total))
        }
        return total
    }

    /// READ straight into a transport's buffers (virtiofs guest memory) with preadv.
    public func read(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                     into destination: IOVectors) throws(Errno) -> Int {
        let file = try file(ctx, handle, inode: inode, writing: false)
        return try file.descriptor.read(into: destination.vectors, at: Int64(offset))
    }

    /// WRITE straight from a transport's buffers with pwritev.
    public func write(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                      from source: IOVectors) throws(Errno) -> Int {
        let file = try file(ctx, handle, inode: inode, writing: true)
        guard file.layer == 0 else { throw .badFileDescriptor }
        return try file.descriptor.write(from: source.vectors, at: Int64(offset))
    }

    public func release(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) {
        let (file, closeBacking) = state.withLock { s -> (OpenFile?, (BackingID, any BackingFileRegistrar)?) in
            guard let file = s.handles.remove(handle) else { return (nil, nil) }
            var close: BackingID? = nil
            if var node = s.table[file.node] {
                node.openHandles -= 1
                if file.cachedMode { node.cachedHandles -= 1 }
                if let backing = node.backing, file.backing == backing.id {
                    node.backing = backing.users > 1 ? (backing.id, backing.layer, backing.users - 1) : nil
                    if backing.users == 1 { close = backing.id }
                }
                s.table[file.node] = node
                s.table.releaseIfUnused(file.node)
            }
            if let close, let registrar = ctx.passthrough { return (file, (close, registrar)) }
            return (file, nil)
        }
        if let (id, registrar) = closeBacking { registrar.close(id) }
        file?.descriptor?.closeQuietly()
        for retired in file?.retired ?? [] { retired.closeQuietly() }
        if let file, let hold = file.hold { layer(file.layer).releaseContent(hold) }
    }

    /// Lower files below this size are not passed through (see open).
    static let passthroughMinimumLowerSize: UInt64 = 1 << 20

    /// Writes reach the host file before WRITE is answered, so close has nothing to flush;
    /// ENOSYS tells the kernel to stop sending FLUSH at all (one round trip less per close).
    public func flush(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) throws(Errno) {
        throw .noFunction
    }

    public func synchronize(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, dataOnly: Bool) throws(Errno) {
        let file = try file(ctx, handle, inode: inode, writing: false)
        if file.layer == 0 { try file.descriptor.synchronize(dataOnly: dataOnly) }
    }

    public func allocate(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, length: UInt64, mode: UInt32) throws(Errno) {
        let file = try file(ctx, handle, inode: inode, writing: true)
        guard file.layer == 0 else { throw .badFileDescriptor }
        try file.descriptor.allocate(mode: Int32(bitPattern: mode), offset: Int64(offset), length: Int64(length))
    }

    public func seek(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64, whence: UInt32) throws(Errno) -> UInt64 {
        let file = try file(ctx, handle, inode: inode, writing: false)
        return UInt64(try file.descriptor.seek(offset: Int64(offset), whence: Int32(whence)))
    }

    public func copyRange(_ ctx: RequestContext, inode: InodeNumber, _ range: RequestBody.CopyFileRange) throws(Errno) -> Int {
        let input = try file(ctx, range.inputHandle, inode: inode, writing: false)
        let output = try file(ctx, range.outputHandle, inode: range.outputNode, writing: true)
        guard output.layer == 0 else { throw .badFileDescriptor }
        return try input.descriptor.copyRange(to: output.descriptor, inputOffset: Int64(range.inputOffset),
                                              outputOffset: Int64(range.outputOffset), length: Int(min(range.length, 1 << 30)))
    }

    public func setAttributes(_ ctx: RequestContext, inode: InodeNumber, changes: AttributeChanges) throws(Errno) -> Attributes {
        // A ctime-only SETATTR (the writeback cache after an unlink or a link) changes nothing
        // we keep: no copy-up, and it works on an unlinked lower file too.
        if changes.changesNothing {
            // Without the writeback cache nothing but chown(f, -1, -1) sends a SETATTR with
            // no field we decode (just FATTR_CTIME): the kernel does not flag it for the set-ID
            // bits (HANDLE_KILLPRIV_V2 flags only a chown that changes an id), yet the VFS
            // clears them on every chown, as ext4 and overlayfs do.
            if !options.writebackCache, let cleared = try setIDBitsAChownClears(ctx, inode: inode) {
                return try setAttributes(ctx, inode: inode, changes: AttributeChanges(mode: cleared))
            }
            return try getAttributes(ctx, inode: inode, handle: changes.handle)
        }
        let path: [UInt8]
        do {
            path = try changingNamespace { () throws(Errno) -> [UInt8] in try copyUp(inode) }
        } catch .staleNFSFileHandle {
            // Unlinked but still open (ftruncate or fchmod of a deleted temporary file): no path
            // is left, so change the file through one of its open descriptors.
            // A handle's descriptor, else the node's own (noOpen mode), kept alive while in use.
            // An unlinked lower file: the times the writeback cache stores when it is closed
            // have nowhere to go (the lower stays as it is) and need nowhere. Other changes
            // (fchmod, ftruncate of the open file) copy it up, unnamed.
            let lower = state.withLock { ($0.table[inode]?.layer ?? 0) != 0 }
            if lower && changes.changesOnlyTimes { return try getAttributes(ctx, inode: inode, handle: changes.handle) }
            guard let fd = try changeableDescriptorOfUnlinked(inode) else { throw .staleNFSFileHandle }
            defer { fd.closeQuietly() }
            return try setAttributes(of: fd, inode: inode, changes: changes)
        }
        let (node, stat) = try hostStat(inode)
        // Handle 0 is no handle (noOpen mode): the path serves.
        let handleFD = changes.handle.flatMap { $0.rawValue == 0 ? nil : try? openFile($0) }.flatMap { $0.layer == 0 ? $0.descriptor : nil }
        if changes.uid != nil || changes.gid != nil {
            try upper.root.changeOwner(at: path, uid: changes.uid ?? UInt32.max, gid: changes.gid ?? UInt32.max)
        }
        if let mode = changes.mode, stat.fileType != .symlink {
            try upper.root.changeMode(at: path, to: mode & 0o7777)
        }
        if let size = changes.size {
            if let handleFD {
                try handleFD.truncate(to: Int64(size))
            } else {
                let fd = try upper.root.open(at: path, flags: O_WRONLY_VALUE | O_NOFOLLOW_VALUE)
                defer { fd.closeQuietly() }
                try fd.truncate(to: Int64(size))
            }
        }
        if changes.killSetIDBits && stat.fileType == .regular {
            let fd = try upper.root.open(at: path, flags: O_RDONLY_VALUE | O_NOFOLLOW_VALUE)
            defer { fd.closeQuietly() }
            try dropSetIDBits(of: fd)
        }
        if changes.accessTime != nil || changes.modificationTime != nil {
            try upper.root.setTimes(at: path, access: timeUpdate(changes.accessTime), modification: timeUpdate(changes.modificationTime))
        }
        return attributes(try upper.stat(path), reportedInode: node.reportedInode, merged: !node.lowerDirectories.isEmpty)
    }

    /// SETATTR applied through a descriptor, for files that no longer have a name.
    private func setAttributes(of fd: FileDescriptor, inode: InodeNumber, changes: AttributeChanges) throws(Errno) -> Attributes {
        if changes.uid != nil || changes.gid != nil {
            try fd.changeOwnerOfDescriptor(uid: changes.uid ?? UInt32.max, gid: changes.gid ?? UInt32.max)
        }
        if let mode = changes.mode { try fd.changeMode(to: mode & 0o7777) }
        if let size = changes.size { try fd.truncate(to: Int64(size)) }
        if changes.accessTime != nil || changes.modificationTime != nil {
            try fd.setTimesOfDescriptor(access: timeUpdate(changes.accessTime), modification: timeUpdate(changes.modificationTime))
        }
        let reported = state.withLock { $0.table[inode]?.reportedInode }
        let stat = try fd.stat()
        return attributes(stat, reportedInode: reported ?? stat.inode)
    }

    private func timeUpdate(_ change: TimeChange?) -> TimeUpdate {
        switch change {
        case nil: .omit
        case .now: .now
        case .time(let seconds, let nanoseconds): .time(TimeSpec(seconds: seconds, nanoseconds: nanoseconds))
        }
    }
}
