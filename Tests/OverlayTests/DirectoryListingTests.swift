// READDIR: the merged listing shows each name once, from the highest layer that has it,
// with "." and ".."; whiteouts are never listed and hide the name below; an opaque directory
// ends the merge; a listing continued from a cookie neither repeats nor skips entries while
// the directory changes, even when the entry at the cookie is gone; OPENDIR answers ENOSYS,
// since listings need no per-open state.
import FUSEWire
import Overlay
import ScorpioSys
import SystemPackage
import Testing

struct DirectoryListingTests {
    @Test func mergedListingShowsEveryNameOnceWithDotEntries() throws {
        let fixture = try OverlayFixture(
            upper: ["u": .file("u"), "shared": .file("upper"), "dir/fromUpper": .file("u")],
            lowers: [
                ["l1": .file("l1"), "shared": .file("lower1"), "dir/fromLower1": .file("l1")],
                ["l2": .file("l2"), "shared": .file("lower2"), "dir/fromLower2": .file("l2"), "dir/fromLower1": .file("dup")],
            ])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let rootNames = try fs.entries(.root).map(\.text)
        #expect(rootNames.count == Set(rootNames).count, "each name is listed once: \(rootNames)")
        #expect(rootNames.sorted() == [".", "..", "dir", "l1", "l2", "shared", "u"])

        let dir = try fs.lookupName("dir")
        let dirNames = try fs.entries(dir.inode).map(\.text)
        #expect(dirNames.count == Set(dirNames).count, "each name is listed once: \(dirNames)")
        #expect(dirNames.sorted() == [".", "..", "fromLower1", "fromLower2", "fromUpper"])

        // "." is the directory itself.
        let dirEntries = try fs.entries(dir.inode)
        let dotEntry = dirEntries.first { $0.text == "." }
        let dot = try #require(dotEntry)
        #expect(dot.inode == dir.attributes.inode)
        // Listing writes nothing to the upper layer.
        #expect(try Disk.names(fixture.upper("dir")) == ["fromUpper"])
    }

    @Test func whiteoutsAreHiddenFromListing() throws {
        let fixture = try OverlayFixture(
            upper: ["gone": .whiteout, "kept": .file("k")],
            lowers: [
                ["gone": .file("lower1"), "gone2": .whiteout, "alsoKept": .file("a")],
                ["gone": .file("lower2"), "gone2": .file("lower2")],
            ])
        defer { fixture.remove() }
        let fs = fixture.overlay

        #expect(try fs.names(.root) == [".", "..", "alsoKept", "kept"])
        // The whiteouts are still there on disk, unchanged.
        expectWhiteout(fixture.upper("gone"))
        expectWhiteout(fixture.lower(1, "gone2"))
    }

    @Test func opaqueDirectoryHidesLowerContents() throws {
        let fixture = try OverlayFixture(
            upper: ["op": .opaqueDirectory, "op/top": .file("t")],
            lowers: [
                ["op/hidden": .file("h"), "op2": .opaqueDirectory, "op2/mid": .file("m")],
                ["op/alsoHidden": .file("h"), "op2/deep": .file("d")],
            ])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let op = try fs.lookupName("op")
        #expect(try fs.names(op.inode) == [".", "..", "top"])
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("hidden", in: op.inode) }

        // An opaque directory in lower 1 hides lower 2 the same way.
        let op2 = try fs.lookupName("op2")
        #expect(try fs.names(op2.inode) == [".", "..", "mid"])
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("deep", in: op2.inode) }
    }

    @Test func readdirFromCookieContinuesWithoutRepeatsOrSkipsWhileFilesAreCreated() throws {
        var upper: LayerContents = [:], lower1: LayerContents = [:], lower2: LayerContents = [:]
        for index in 0..<5 {
            upper["upper\(index)"] = .file("u")
            lower1["lower1-\(index)"] = .file("l1")
            lower2["lower2-\(index)"] = .file("l2")
        }
        lower1["shared"] = .file("l1")
        lower2["shared"] = .file("l2")
        let fixture = try OverlayFixture(upper: upper, lowers: [lower1, lower2])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let expected = try fs.names(.root)
        #expect(expected.count == 2 + 5 * 3 + 1)

        let handle = FileHandleID(0)
        var listed: [DirectoryEntry] = []
        var offset: UInt64 = 0
        var round = 0
        while round < 100 {
            // A reply buffer with room for three entries: the fourth is refused and must come
            // first in the next call.
            var batch: [DirectoryEntry] = []
            try fs.readDirectory(rootContext, inode: .root, handle: handle, offset: offset) { entry in
                if batch.count == 3 { return false }
                batch.append(entry)
                return true
            }
            guard let last = batch.last else { break }
            listed += batch
            offset = last.nextOffset
            round += 1
            // Between two READDIR calls someone creates a file in the directory.
            _ = try fs.createFile("created\(round)")
        }
        #expect(round < 100, "the listing never ended")

        let names = listed.map(\.text)
        #expect(names.count == Set(names).count, "no entry is repeated: \(names)")
        #expect(Set(expected).isSubset(of: Set(names)), "no entry is skipped: missing \(Set(expected).subtracting(names))")
        // A file created during the listing may or may not show up; nothing else may.
        let extras = names.filter { !expected.contains($0) }
        let onlyCreatedExtras = extras.allSatisfy { $0.hasPrefix("created") }
        #expect(onlyCreatedExtras, "unexpected entries: \(extras)")
        // Cookies grow, so the kernel never goes backwards.
        let cookies = listed.map(\.nextOffset)
        #expect(cookies == cookies.sorted() && Set(cookies).count == cookies.count, "cookies: \(cookies)")
    }

    @Test func readdirFromOffsetZeroAgainSeesNewEntries() throws {
        let fixture = try OverlayFixture(upper: ["a": .file("a")], lowers: [["b": .file("b")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let handle = FileHandleID(0)
        var first: [String] = []
        try fs.readDirectory(rootContext, inode: .root, handle: handle, offset: 0) { first.append($0.text); return true }
        #expect(first.sorted() == [".", "..", "a", "b"])

        _ = try fs.createFile("c")
        // rewinddir: offset 0 takes a fresh listing.
        var second: [String] = []
        try fs.readDirectory(rootContext, inode: .root, handle: handle, offset: 0) { second.append($0.text); return true }
        #expect(second.sorted() == [".", "..", "a", "b", "c"])
    }

    @Test func opendirAnswersENOSYSSoTheKernelStopsSendingIt() throws {
        let fixture = try OverlayFixture(upper: ["a": .file("a")], lowers: [])
        defer { fixture.remove() }
        #expect(throws: Errno.noFunction) { try fixture.overlay.openDirectory(rootContext, inode: .root, flags: 0) }
    }

    @Test func readdirResumesAfterAnEntryThatWasRemovedMeanwhile() throws {
        var lower: LayerContents = [:]
        for index in 0..<40 { lower["name\(index)"] = .file("l") }
        let fixture = try OverlayFixture(upper: [:], lowers: [lower])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let expected = try fs.names(.root)

        // Read ten entries, then remove the last one read and two not yet read.
        var listed: [DirectoryEntry] = []
        try fs.readDirectory(rootContext, inode: .root, handle: FileHandleID(0), offset: 0) { entry in
            guard listed.count < 10 else { return false }
            listed.append(entry)
            return true
        }
        let resumeAt = listed[9].nextOffset
        var removed = [listed[9].text]
        try fs.unlink(rootContext, parent: .root, name: Array(listed[9].text.utf8))
        let unread = expected.filter { name in !listed.contains { $0.text == name } }.filter { $0.hasPrefix("name") }
        for name in unread.prefix(2) {
            try fs.unlink(rootContext, parent: .root, name: Array(name.utf8))
            removed.append(name)
        }
        try fs.readDirectory(rootContext, inode: .root, handle: FileHandleID(0), offset: resumeAt) { entry in
            listed.append(entry)
            return true
        }
        let names = listed.map(\.text)
        #expect(names.count == Set(names).count, "no entry is repeated: \(names)")
        let stillThere = Set(expected).subtracting(removed)
        #expect(stillThere.isSubset(of: Set(names)), "no entry is skipped: missing \(stillThere.subtracting(names))")
        #expect(Set(names).isSubset(of: Set(expected)))
        #expect(!names.contains(removed[1]) && !names.contains(removed[2]), "removed entries are not listed after removal")
    }
}
