// POSIX ACLs under FUSE_POSIX_ACL: the kernel reads a file's ACL with GETXATTR for its
// permission checks and treats every answer but a value or ENODATA as the check's result, and
// it enforces whatever ACL a copy carries.
import Foundation
import FUSEWire
import Overlay
import ScorpioSys
import SystemPackage
import Testing

/// A host directory whose filesystem has no xattrs at all (squashfs without them, ext4 with
/// `noacl` for ACLs): every xattr call answers EOPNOTSUPP.
private struct LayerWithoutXattrs: ReadableLayer {
    let base: HostDirectoryLayer
    var name: String { base.name }
    func stat(_ path: [UInt8]) throws(Errno) -> FileStat { try base.stat(path) }
    func list(_ path: [UInt8]) throws(Errno) -> [HostDirectoryEntry] { try base.list(path) }
    func readLink(_ path: [UInt8]) throws(Errno) -> [UInt8] { try base.readLink(path) }
    func openForReading(_ path: [UInt8]) throws(Errno) -> FileDescriptor { try base.openForReading(path) }
    func openIfLocal(_ path: [UInt8]) throws(Errno) -> FileDescriptor? { try base.openIfLocal(path) }
    func extendedAttributeNames(_ path: [UInt8]) throws(Errno) -> [[UInt8]] { throw .notSupported }
    func extendedAttribute(_ path: [UInt8], name: [UInt8]) throws(Errno) -> [UInt8]? { throw .notSupported }
    func statistics() throws(Errno) -> FileSystemStatistics { try base.statistics() }
    func prefetchSubtree(_ path: [UInt8], cancelled: () -> Bool) throws(Errno) -> Int { 0 }
    var fetchedTotals: (objects: Int, bytes: Int, inFlight: Int) { (0, 0, 0) }
    func holdContent(_ path: [UInt8]) throws(Errno) -> ContentHold? { .notNeeded }
    func releaseContent(_ hold: ContentHold) {}
    var readsAhead: Bool { false }
    func contentMissedPageCache(_ path: [UInt8]) {}
}

struct ACLTests {
    @Test func aclOfALayerWithoutXattrsReadsAsNoneNotAsAnError() throws {
        let fixture = try OverlayFixture(lowers: [["f": .file("x")]])
        defer { fixture.remove() }
        let upper = try HostDirectoryLayer(path: fixture.upperRoot, name: "upper")
        let lower = LayerWithoutXattrs(base: try HostDirectoryLayer(path: fixture.lowerRoots[0], name: "lower"))
        let fs = try OverlayFileSystem(upper: upper, lowers: [lower], options: OverlayOptions(), logger: quietLogger)
        let file = try fs.lookupName("f")
        let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        for acl in ["system.posix_acl_access", "system.posix_acl_default"] {
            #expect(throws: Errno.noData) { try fs.getExtendedAttribute(rootContext, inode: file.inode, name: bytes(acl), into: empty) }
        }
        // Other names keep the layer's answer.
        #expect(throws: Errno.notSupported) { try fs.getExtendedAttribute(rootContext, inode: file.inode, name: bytes("user.x"), into: empty) }
    }

    @Test func aCopyUpDoesNotTakeTheUpperDirectorysDefaultACL() throws {
        let fixture = try OverlayFixture(upper: ["d": .directory], lowers: [["d/f": .file("secret"), "d/sub/g": .file("g")]])
        defer { fixture.remove() }
        let setfacl = Process()
        setfacl.executableURL = URL(fileURLWithPath: "/usr/bin/setfacl")
        setfacl.arguments = ["-d", "-m", "u:nobody:rwx", fixture.upper("d")]
        try setfacl.run()
        setfacl.waitUntilExit()
        try #require(setfacl.terminationStatus == 0, "setfacl (package acl) must work on the test directory")
        let fs = fixture.overlay
        let file = try fs.lookupPath("d/f")
        let opened = try fs.open(rootContext, inode: file.inode, flags: readWriteFlags)
        fs.release(rootContext, inode: file.inode, handle: opened.handle)
        let sub = try fs.lookupPath("d/sub")
        _ = try fs.setAttributes(rootContext, inode: sub.inode, changes: AttributeChanges(mode: 0o40700))
        #expect(try Disk.attribute(fixture.upper("d/f"), "system.posix_acl_access") == nil)
        #expect(try Disk.attribute(fixture.upper("d/sub"), "system.posix_acl_access") == nil)
        #expect(try Disk.attribute(fixture.upper("d/sub"), "system.posix_acl_default") == nil)
        #expect(try Disk.contents(fixture.upper("d/f")) == "secret")
    }
}
