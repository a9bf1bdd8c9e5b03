// UNLINK, RMDIR and MKDIR over removed names. Removing something a lower layer still has leaves a
// whiteout (character device 0/0) in the upper layer; removing an upper-only name leaves nothing;
// a directory created over a whiteout is opaque (trusted.overlay.opaque = "y"), so the deleted
// lower directory's contents stay hidden.
import FUSEWire
import Overlay
import ScorpioSys
import SystemPackage
import Testing

struct RemovalTests {
    @Test func unlinkOfLowerFileCreatesWhiteoutInUpper() throws {
        let fixture = try OverlayFixture(lowers: [["victim": .file("v"), "other": .file("o")], ["victim": .file("v2")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        try fs.unlink(rootContext, parent: .root, name: bytes("victim"))

        expectWhiteout(fixture.upper("victim"))
        #expect(try Disk.names(fixture.upper("")) == ["victim"])
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("victim") }
        #expect(try fs.names(.root) == [".", "..", "other"])
        // Lower layers are never written.
        #expect(try Disk.contents(fixture.lower(1, "victim")) == "v")
        #expect(try Disk.contents(fixture.lower(2, "victim")) == "v2")
    }

    @Test func whiteoutsAreHardLinksOfOneInodeAndANewOneIsMadeWhenItIsGone() throws {
        let fixture = try OverlayFixture(lowers: [["a": .file("a"), "b": .file("b"), "dir/c": .file("c"), "d": .file("d")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let dir = try fs.lookupName("dir")
        try fs.unlink(rootContext, parent: .root, name: bytes("a"))
        try fs.unlink(rootContext, parent: .root, name: bytes("b"))
        try fs.unlink(rootContext, parent: dir.inode, name: bytes("c"))
        for name in ["a", "b", "dir/c"] { expectWhiteout(fixture.upper(name)) }
        let first = try Disk.stat(fixture.upper("a"))
        #expect(try Disk.stat(fixture.upper("b")).inode == first.inode)
        #expect(try Disk.stat(fixture.upper("dir/c")).inode == first.inode)
        #expect(try Disk.stat(fixture.upper("dir/c")).linkCount == 3)
        // Every whiteout goes (names created over them): the next one is a new inode.
        for (parent, name) in [(InodeNumber.root, "a"), (.root, "b"), (dir.inode, "c")] {
            _ = try fs.makeDirectory(rootContext, parent: parent, name: bytes(name), mode: 0o755)
        }
        try fs.unlink(rootContext, parent: .root, name: bytes("d"))
        expectWhiteout(fixture.upper("d"))
        #expect(try Disk.stat(fixture.upper("d")).linkCount == 1)
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("d") }
    }

    @Test func unlinkInLowerOnlyDirectoryCopiesUpParentAndCreatesWhiteout() throws {
        let fixture = try OverlayFixture(lowers: [["dir/victim": .file("v"), "dir/kept": .file("k")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let dir = try fs.lookupName("dir")
        try fs.unlink(rootContext, parent: dir.inode, name: bytes("victim"))

        let upperDir = try Disk.stat(fixture.upper("dir"))
        #expect(upperDir.fileType == .directory)
        #expect(try Disk.attribute(fixture.upper("dir"), opaqueAttribute) == nil)
        expectWhiteout(fixture.upper("dir/victim"))
        #expect(try fs.names(dir.inode) == [".", "..", "kept"])
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("victim", in: dir.inode) }
    }

    @Test func unlinkOfUpperOnlyFileLeavesNothing() throws {
        let fixture = try OverlayFixture(upper: ["mine": .file("m")], lowers: [["other": .file("o")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        _ = try fs.lookupName("mine")
        try fs.unlink(rootContext, parent: .root, name: bytes("mine"))

        #expect(!Disk.exists(fixture.upper("mine")))
        #expect(try Disk.names(fixture.upper("")).isEmpty)
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("mine") }
        #expect(try fs.names(.root) == [".", "..", "other"])
    }

    @Test func unlinkOfUpperFileShadowingLowerFileLeavesWhiteout() throws {
        let fixture = try OverlayFixture(upper: ["both": .file("upper")], lowers: [[:], ["both": .file("lower2")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        try fs.unlink(rootContext, parent: .root, name: bytes("both"))

        expectWhiteout(fixture.upper("both"))
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("both") }
        #expect(try Disk.contents(fixture.lower(2, "both")) == "lower2")
    }

    @Test func rmdirOfNonEmptyMergedDirectoryThrowsDirectoryNotEmpty() throws {
        let fixture = try OverlayFixture(
            upper: ["d/fromUpper": .file("u"), "e": .directory],
            lowers: [["d/fromLower1": .file("l1"), "e": .directory], ["d/fromLower2": .file("l2"), "e/onlyBelow": .file("b")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        #expect(throws: Errno.directoryNotEmpty) { try fs.removeDirectory(rootContext, parent: .root, name: bytes("d")) }
        // The upper part of "e" is empty, but lower 2 still has an entry in it.
        #expect(throws: Errno.directoryNotEmpty) { try fs.removeDirectory(rootContext, parent: .root, name: bytes("e")) }

        // Nothing changed: no whiteouts, the upper parts are still there.
        #expect(try Disk.stat(fixture.upper("d")).fileType == .directory)
        #expect(try Disk.names(fixture.upper("d")) == ["fromUpper"])
        #expect(try Disk.stat(fixture.upper("e")).fileType == .directory)
        let d = try fs.lookupName("d")
        #expect(try fs.names(d.inode) == [".", "..", "fromLower1", "fromLower2", "fromUpper"])
        let e = try fs.lookupName("e")
        #expect(try fs.names(e.inode) == [".", "..", "onlyBelow"])
    }

    @Test func rmdirOfEmptyLowerDirectoryCreatesWhiteout() throws {
        let fixture = try OverlayFixture(lowers: [["empty": .directory, "kept": .file("k")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        try fs.removeDirectory(rootContext, parent: .root, name: bytes("empty"))

        expectWhiteout(fixture.upper("empty"))
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("empty") }
        #expect(try fs.names(.root) == [".", "..", "kept"])
        #expect(try Disk.stat(fixture.lower(1, "empty")).fileType == .directory)
    }

    @Test func mkdirOverWhiteoutCreatesOpaqueDirectory() throws {
        let fixture = try OverlayFixture(
            upper: ["e": .whiteout],
            lowers: [["e/old": .file("old")], ["e/older": .file("older")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let created = try fs.makeDirectory(rootContext, parent: .root, name: bytes("e"), mode: 0o755)
        #expect(created.attributes.mode & 0o170000 == 0o040000)

        expectOpaqueDirectory(fixture.upper("e"))
        #expect(try Disk.names(fixture.upper("e")).isEmpty)
        #expect(try fs.names(created.inode) == [".", ".."])
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("old", in: created.inode) }
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("older", in: created.inode) }
        #expect(try fs.lookupName("e").inode == created.inode)
    }

    @Test func emptyingMergedDirectoryThenRmdirThenMkdirHidesOldContents() throws {
        let fixture = try OverlayFixture(lowers: [["f/old": .file("old")], ["f/older": .file("older")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let f = try fs.lookupName("f")
        try fs.unlink(rootContext, parent: f.inode, name: bytes("old"))
        try fs.unlink(rootContext, parent: f.inode, name: bytes("older"))
        expectWhiteout(fixture.upper("f/old"))
        expectWhiteout(fixture.upper("f/older"))
        #expect(try fs.names(f.inode) == [".", ".."])
        fs.forget(f.inode, count: 1)

        // Only whiteouts are left in it, so it counts as empty.
        try fs.removeDirectory(rootContext, parent: .root, name: bytes("f"))
        expectWhiteout(fixture.upper("f"))
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("f") }

        let recreated = try fs.makeDirectory(rootContext, parent: .root, name: bytes("f"), mode: 0o755)
        expectOpaqueDirectory(fixture.upper("f"))
        #expect(try fs.names(recreated.inode) == [".", ".."])
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("old", in: recreated.inode) }
    }
}
