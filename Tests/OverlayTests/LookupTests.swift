// LOOKUP resolution order: the upper layer shadows lower 1, which shadows lower 2; whiteouts end
// the search; a missing name is ENOENT. Contents are read back through OPEN/READ so the test sees
// which layer's copy the overlay picked.
import FUSEWire
import Overlay
import ScorpioSys
import SystemPackage
import Testing

struct LookupTests {
    @Test func upperShadowsLower1WhichShadowsLower2() throws {
        let fixture = try OverlayFixture(
            upper: ["a": .file("upper a")],
            lowers: [
                ["a": .file("lower1 a"), "b": .file("lower1 b")],
                ["a": .file("lower2 a"), "b": .file("lower2 b"), "c": .file("lower2 c")],
            ])
        defer { fixture.remove() }
        let fs = fixture.overlay

        #expect(try fs.readAll(fs.lookupName("a").inode) == "upper a")
        #expect(try fs.readAll(fs.lookupName("b").inode) == "lower1 b")
        #expect(try fs.readAll(fs.lookupName("c").inode) == "lower2 c")
        // Looking names up never writes anything.
        #expect(try Disk.names(fixture.upper("")) == ["a"])
    }

    @Test func lookupOfMissingNameThrowsNoSuchFileOrDirectory() throws {
        let fixture = try OverlayFixture(
            upper: ["present": .file("x")],
            lowers: [["dir/inner": .file("y")], ["other": .file("z")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("missing") }
        let dir = try fs.lookupName("dir")
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("missing", in: dir.inode) }
    }

    @Test func mergedSubdirectoryResolvesNamesFromEveryLayer() throws {
        let fixture = try OverlayFixture(
            upper: ["dir/fromUpper": .file("u"), "dir/shared": .file("upper shared")],
            lowers: [
                ["dir/fromLower1": .file("l1"), "dir/shared": .file("lower1 shared")],
                ["dir/fromLower2": .file("l2"), "dir/shared": .file("lower2 shared")],
            ])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let dir = try fs.lookupName("dir")
        #expect(dir.attributes.mode & 0o170000 == 0o040000)
        #expect(try fs.readAll(fs.lookupName("fromUpper", in: dir.inode).inode) == "u")
        #expect(try fs.readAll(fs.lookupName("fromLower1", in: dir.inode).inode) == "l1")
        #expect(try fs.readAll(fs.lookupName("fromLower2", in: dir.inode).inode) == "l2")
        #expect(try fs.readAll(fs.lookupName("shared", in: dir.inode).inode) == "upper shared")
    }

    @Test func fileInHigherLayerHidesDirectoryOfSameNameBelow() throws {
        let fixture = try OverlayFixture(
            lowers: [["x": .file("a file")], ["x/inner": .file("hidden")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let x = try fs.lookupName("x")
        #expect(x.attributes.mode & 0o170000 == 0o100000)
        #expect(try fs.readAll(x.inode) == "a file")
    }

    @Test func whiteoutInUpperHidesLowerNames() throws {
        let fixture = try OverlayFixture(
            upper: ["gone": .whiteout],
            lowers: [["gone": .file("lower1")], ["gone": .file("lower2")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("gone") }
    }

    @Test func whiteoutInLower1HidesLower2Name() throws {
        let fixture = try OverlayFixture(
            lowers: [["gone": .whiteout, "dir/gone": .whiteout], ["gone": .file("lower2"), "dir/gone": .file("lower2")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("gone") }
        let dir = try fs.lookupName("dir")
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("gone", in: dir.inode) }
    }
}
