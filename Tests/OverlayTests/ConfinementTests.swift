// The daemon may run as root, and users shape the upper through the mount. Between building a
// node's path and using it, another request can rename a directory on the way and put a
// symlink in its place; the upper's paths must then fail, not lead outside it. The tests make
// that swap on disk between LOOKUP and the operation, as the racing request would.
import Foundation
import FUSEWire
import Overlay
import ScorpioSys
import SystemPackage
import Testing

@Suite struct ConfinementTests {
    /// An upper with a/etc/target, looked up; then `a` swapped for a symlink to `outside`,
    /// which holds etc/target too. Returns the fixture, the node of a/etc/target and `outside`.
    func swappedFixture() throws -> (OverlayFixture, InodeNumber, String) {
        let (fixture, node, _, outside) = try swappedFixtureWithDirectory()
        return (fixture, node, outside)
    }

    /// The same, with the node of a/etc as well.
    func swappedFixtureWithDirectory() throws -> (OverlayFixture, InodeNumber, InodeNumber, String) {
        let fixture = try OverlayFixture(upper: ["a/etc/target": .file("mine")], lowers: [[:]])
        let node = try fixture.overlay.lookupPath("a/etc/target").inode
        let directory = try fixture.overlay.lookupPath("a/etc").inode
        let outside = fixture.base + "/outside"
        try FileManager.default.createDirectory(atPath: outside + "/etc", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: outside + "/etc/target", contents: Data("secret".utf8)))
        try Disk.changeMode(outside + "/etc/target", 0o600)
        try FileManager.default.moveItem(atPath: fixture.upper("a"), toPath: fixture.upper("a-moved"))
        try FileManager.default.createSymbolicLink(atPath: fixture.upper("a"), withDestinationPath: outside)
        return (fixture, node, directory, outside)
    }

    @Test func aChmodThroughASwappedInSymlinkFailsAndLeavesTheOutsideFileAlone() throws {
        let (fixture, node, outside) = try swappedFixture()
        defer { fixture.remove() }
        // Refused either way: ELOOP from the confined chmod, or ESTALE from the identity check
        // of the node (a stat, which is not confined, finds another file there).
        #expect(throws: (any Error).self) {
            _ = try fixture.overlay.setAttributes(rootContext, inode: node, changes: AttributeChanges(mode: 0o777))
        }
        #expect(try Disk.stat(outside + "/etc/target").permissions == 0o600)
    }

    @Test func anOpenForWritingThroughASwappedInSymlinkFails() throws {
        let (fixture, node, outside) = try swappedFixture()
        defer { fixture.remove() }
        #expect(throws: Errno.tooManySymbolicLinkLevels) { _ = try fixture.overlay.open(rootContext, inode: node, flags: truncateFlags) }
        #expect(try Disk.contents(outside + "/etc/target") == "secret")
    }

    @Test func aReadThroughASwappedInSymlinkFails() throws {
        let (fixture, node, _) = try swappedFixture()
        defer { fixture.remove() }
        #expect(throws: Errno.tooManySymbolicLinkLevels) {
            let opened = try fixture.overlay.open(rootContext, inode: node, flags: readOnlyFlags)
            _ = try fixture.overlay.readAll(node, handle: opened.handle)
        }
    }

    @Test func xattrsAndUnlinkThroughASwappedInSymlinkFail() throws {
        let (fixture, node, directory, outside) = try swappedFixtureWithDirectory()
        defer { fixture.remove() }
        let value: [UInt8] = Array("v".utf8)
        var refusal: (any Error)? = nil
        do {
            try value.withUnsafeBytes { raw in
                try fixture.overlay.setExtendedAttribute(rootContext, inode: node, name: bytes("user.x"), value: raw, flags: 0)
            }
        } catch {
            refusal = error
        }
        #expect(refusal as? Errno == .tooManySymbolicLinkLevels)
        #expect((try? Disk.stat(outside + "/etc/target")) != nil)
        #expect(throws: Errno.tooManySymbolicLinkLevels) { try fixture.overlay.unlink(rootContext, parent: directory, name: bytes("target")) }
        #expect(FileManager.default.fileExists(atPath: outside + "/etc/target"))
    }
}
