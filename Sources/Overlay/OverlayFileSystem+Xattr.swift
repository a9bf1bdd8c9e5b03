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
        let (node, path) = try locate(inode)
        if node.layer == 0 {
            return try upper.root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.get(path: procPath, name: name, into: buffer) }
        }
        guard let value = try layer(node.layer).extendedAttribute(path, name: name) else { throw .noData }
        if buffer.count == 0 { return value.count }
        guard value.count <= buffer.count else { throw .outOfRange }
        value.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return value.count
    }

    public func listExtendedAttributes(_ ctx: RequestContext, inode: InodeNumber,
                                       into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard options.extendedAttributes else { throw .noFunction }
        let (node, path) = try locate(inode)
        var list: [UInt8] = []
        for name in try layer(node.layer).extendedAttributeNames(path) where !OverlayFormat.isPrivateAttribute(name) {
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
        let path = try changingNamespace { () throws(Errno) -> [UInt8] in try copyUp(inode) }
        try upper.root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.set(path: procPath, name: name, value: value, flags: Int32(bitPattern: flags)) }
    }

    public func removeExtendedAttribute(_ ctx: RequestContext, inode: InodeNumber, name: [UInt8]) throws(Errno) {
        guard options.extendedAttributes else { throw .noFunction }
        if OverlayFormat.isPrivateAttribute(name) { throw .notPermitted }
        let path = try changingNamespace { () throws(Errno) -> [UInt8] in try copyUp(inode) }
        try upper.root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.remove(path: procPath, name: name) }
    }
}
