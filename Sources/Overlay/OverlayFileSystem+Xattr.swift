// Extended attributes. Reads come from the layer holding the node; changes copy it up first.
// The overlay's own markers (trusted.overlay.*, user.overlay.*) are neither listed nor
// changeable through the mount, as in kernel overlayfs.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    public func getExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8],
                                     into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        if let control = ControlAttribute(name) { return try controlRead(control, inode: inode, into: buffer) }
        guard options.extendedAttributes else { throw .noFunction }
        if OverlayFormat.isPrivateAttribute(name) { throw .noData }
        do throws(Errno) {
            return try readAttribute(inode, name: name, into: buffer)
        } catch .notSupported where OverlayFormat.aclNames.contains(name) {
            // The kernel reads ACLs for its permission checks (FUSE_POSIX_ACL) and takes only
            // ENODATA for "none": a layer without ACL support would deny every access.
            throw .noData
        }
    }

    private func readAttribute(_ inode: InodeNumber, name: [UInt8], into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let node: Node, path: [UInt8]
        do throws(Errno) {
            (node, path) = try locate(inode)
        } catch .staleNFSFileHandle {
            if let (index, lowerPath) = detachedLower(inode) { return try copyValue(try layer(index).extendedAttribute(lowerPath, name: name), into: buffer) }
            return try onUnlinked(inode, upperOnly: false) { (fd) throws(Errno) in try ExtendedAttributes.get(descriptor: fd, name: name, into: buffer) }
        }
        if node.layer == 0 {
            return try upper.root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.get(path: procPath, name: name, into: buffer) }
        }
        return try copyValue(try layer(node.layer).extendedAttribute(path, name: name), into: buffer)
    }

    /// A lower layer's value as GETXATTR answers it (the size only for an empty buffer).
    private func copyValue(_ value: [UInt8]?, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard let value else { throw .noData }
        if buffer.count == 0 { return value.count }
        guard value.count <= buffer.count else { throw .outOfRange }
        value.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return value.count
    }

    public func listExtendedAttributes(_ ctx: RequestContext, inode: InodeNumber,
                                       into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard options.extendedAttributes else { throw .noFunction }
        let names: [[UInt8]]
        do throws(Errno) {
            let (node, path) = try locate(inode)
            names = try layer(node.layer).extendedAttributeNames(path)
        } catch .staleNFSFileHandle {
            if let (index, lowerPath) = detachedLower(inode) {
                names = try layer(index).extendedAttributeNames(lowerPath)
            } else {
                names = try onUnlinked(inode, upperOnly: false) { (fd) throws(Errno) in try ExtendedAttributes.names(descriptor: fd) }
            }
        }
        var list: [UInt8] = []
        for name in names where !OverlayFormat.isPrivateAttribute(name) {
            list.append(contentsOf: name)
            list.append(0)
        }
        if buffer.count == 0 { return list.count }
        guard list.count <= buffer.count else { throw .outOfRange }
        list.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return list.count
    }

    public func setExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8],
                                     value: UnsafeRawBufferPointer, flags: UInt32) throws(Errno) {
        if let control = ControlAttribute(name) { return try controlWrite(control) }
        guard options.extendedAttributes else { throw .noFunction }
        if OverlayFormat.isPrivateAttribute(name) { throw .notPermitted }
        let path: [UInt8]
        do throws(Errno) {
            path = try changingNamespace { () throws(Errno) -> [UInt8] in try copyUp(inode) }
        } catch .staleNFSFileHandle {
            return try onUnlinked(inode, upperOnly: true) { (fd) throws(Errno) in
                try ExtendedAttributes.set(descriptor: fd, name: name, value: value, flags: Int32(bitPattern: flags))
            }
        }
        invalidateChangedAttributes(ctx)
        try upper.root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.set(path: procPath, name: name, value: value, flags: Int32(bitPattern: flags)) }
    }

    public func removeExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8]) throws(Errno) {
        guard options.extendedAttributes else { throw .noFunction }
        if OverlayFormat.isPrivateAttribute(name) { throw .notPermitted }
        // Removing what a lower file does not have changes nothing: ENODATA without a copy-up
        // (which would also split a lower hard link for nothing), as on overlayfs.
        let path: [UInt8]
        do throws(Errno) {
            let (node, lowerPath) = try locate(inode)
            if node.layer != 0, try layer(node.layer).extendedAttribute(lowerPath, name: name) == nil { throw .noData }
            path = try changingNamespace { () throws(Errno) -> [UInt8] in try copyUp(inode) }
        } catch .staleNFSFileHandle {
            if let (index, lowerPath) = detachedLower(inode), try layer(index).extendedAttribute(lowerPath, name: name) == nil { throw .noData }
            return try onUnlinked(inode, upperOnly: true) { (fd) throws(Errno) in try ExtendedAttributes.remove(descriptor: fd, name: name) }
        }
        invalidateChangedAttributes(ctx)
        try upper.root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.remove(path: procPath, name: name) }
    }

    /// Runs an f*xattr call on a file that lost its last name while open (fsetxattr on the
    /// descriptor of a deleted file), through a copy of one of its open descriptors; a change
    /// to a lower file copies it up first (copyUpDetached).
    private func onUnlinked<R>(_ inode: InodeNumber, upperOnly: Bool, _ body: (FileDescriptor) throws(Errno) -> R) throws(Errno) -> R {
        let open = upperOnly ? try changeableDescriptorOfUnlinked(inode) : descriptorOfUnlinked(inode, upperOnly: false)
        guard let fd = open else { throw .staleNFSFileHandle }
        defer { fd.closeQuietly() }
        return try body(fd)
    }

    /// The layer and old path of an unlinked lower file (Node.detachedLowerPath), whose xattrs
    /// are read there (through the layer: a Dicfuse file's descriptor is its cache file's).
    private func detachedLower(_ inode: InodeNumber) -> (LayerIndex, [UInt8])? {
        state.withLock { s in
            guard let node = s.table[inode], node.layer != 0, let path = node.detachedLowerPath else { return nil }
            return (node.layer, path)
        }
    }
}
