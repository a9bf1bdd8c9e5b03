// Unit tests for the pieces under the pack parser: DeltaApplier on hand-written deltas, Inflater
// on stored and real (git loose object) zlib streams, TreeParser and Commit.parse on hand-written
// object content, and ObjectHasher against git's well-known ids.
import Foundation
import Testing
@testable import Dicfuse

private func deltaError(_ delta: [UInt8], _ base: [UInt8]) -> PackError? {
    packError { try DeltaApplier.apply(delta, to: base) }
}

@Suite struct DeltaApplierTests {
    let hello = bytes("hello world")

    @Test func copyAndInsert() throws {
        let delta = PackBuilder.deltaSize(11) + PackBuilder.deltaSize(12)
            + [0x91, 6, 5]      // copy offset 6, size 5: "world"
            + [0x01, 0x20]      // insert " "
            + [0x90, 5]         // copy offset 0, size 5: "hello"
            + [0x01, 0x21]      // insert "!"
        #expect(try DeltaApplier.apply(delta, to: hello) == bytes("world hello!"))
    }

    @Test func multiByteOffsetAndSize() throws {
        let base = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        // Offset 0x0102 (two bytes), size 0x0304 (two bytes), little-endian.
        let delta = PackBuilder.deltaSize(base.count) + PackBuilder.deltaSize(0x0304)
            + [0xb3, 0x02, 0x01, 0x04, 0x03]
        #expect(try DeltaApplier.apply(delta, to: base) == Array(base[0x0102..<0x0102 + 0x0304]))
    }

    @Test func copySizeZeroMeans0x10000() throws {
        let base = (0..<0x10010).map { UInt8(truncatingIfNeeded: $0) }
        let delta = PackBuilder.deltaSize(base.count) + PackBuilder.deltaSize(0x10000 + 2)
            + [0x81, 0x10]      // copy offset 0x10, no size bytes: 0x10000 bytes
            + [0x02, 7, 8]
        let result = try DeltaApplier.apply(delta, to: base)
        #expect(result == Array(base[0x10...]) + [7, 8])

        // One byte further and the copy leaves the base.
        let outside = PackBuilder.deltaSize(base.count) + PackBuilder.deltaSize(0x10000) + [0x81, 0x11]
        #expect(isCase(deltaError(outside, base), .badDelta))
    }

    @Test func outOfBoundsCopiesAreRejected() {
        let base = bytes("0123456789")
        let cases: [[UInt8]] = [
            [0x91, 5, 10],                  // offset 5 + size 10 > 10
            [0x91, 11, 1],                  // offset past the end
            [0x9f, 0xff, 0xff, 0xff, 0x7f, 1],  // huge offset
            [0xb0, 0xff, 0xff],             // size 0xffff from offset 0
        ]
        for instructions in cases {
            let delta = PackBuilder.deltaSize(10) + PackBuilder.deltaSize(10) + instructions
            #expect(isCase(deltaError(delta, base), .badDelta), "\(instructions)")
        }
    }

    @Test func malformedDeltasAreRejected() {
        let header = PackBuilder.deltaSize(11) + PackBuilder.deltaSize(5)
        let cases: [(String, [UInt8])] = [
            ("opcode 0", header + [0x00]),
            ("base size mismatch", PackBuilder.deltaSize(10) + PackBuilder.deltaSize(5) + [0x90, 5]),
            ("result shorter than declared", header + [0x90, 4]),
            ("copy past the declared size", header + [0x90, 6]),
            ("insert past the declared size", header + [0x06, 1, 2, 3, 4, 5, 6]),
            ("truncated insert", header + [0x05, 1, 2]),
            ("truncated copy operand", header + [0x91, 0]),
            ("truncated size header", [0x8b]),
            ("empty delta", []),
            ("overlong size header", [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ]
        for (name, delta) in cases {
            #expect(isCase(deltaError(delta, hello), .badDelta), "\(name)")
        }
    }

    @Test func emptyResult() throws {
        #expect(try DeltaApplier.apply([11, 0], to: hello).isEmpty)
    }
}

@Suite struct InflaterTests {
    @Test func storedStreamReportsConsumedBytes() throws {
        let data = bytes("some content to wrap in a zlib stream")
        let stream = PackBuilder.zlibStored(data)
        let (output, consumed) = try Inflater.inflate(stream + [1, 2, 3], in: 0..<(stream.count + 3), expectedSize: data.count)
        #expect(output == data)
        #expect(consumed == stream.count)

        let viaPointer = try (stream + [9]).withUnsafeBytes { raw in
            try Inflater.inflate(raw, expectedSize: data.count)
        }
        #expect(viaPointer.output == data)
        #expect(viaPointer.consumed == stream.count)
    }

    @Test func emptyContent() throws {
        let stream = PackBuilder.zlibStored([])
        let (output, consumed) = try Inflater.inflate(stream, in: 0..<stream.count, expectedSize: 0)
        #expect(output.isEmpty)
        #expect(consumed == stream.count)
    }

    @Test func realDeflateStreamAndItsTruncations() throws {
        let repo = try GitRepo.create()
        defer { repo.remove() }
        let content = (0..<400).map { "row \($0) of a compressible file\n" }.joined()
        try repo.write("file.txt", content)
        let hex = try repo.text(["hash-object", "-w", "file.txt"])
        let loose = [UInt8](try Data(contentsOf: repo.root.appendingPathComponent(
            ".git/objects/\(hex.prefix(2))/\(hex.dropFirst(2))")))
        // A loose object is the zlib stream of "blob <size>\0" + content.
        let expected = bytes("blob \(content.utf8.count)\0") + bytes(content)
        #expect(loose.count < expected.count / 2, "git should have compressed the file")

        let (output, consumed) = try Inflater.inflate(loose, in: 0..<loose.count, expectedSize: expected.count)
        #expect(output == expected)
        #expect(consumed == loose.count)

        for cut in 0..<loose.count {
            let error = packError { try Inflater.inflate(loose, in: 0..<cut, expectedSize: expected.count) }
            #expect(error != nil, "cut at \(cut)")
        }
        for size in [expected.count - 1, expected.count + 1, 0] {
            let error = packError { try Inflater.inflate(loose, in: 0..<loose.count, expectedSize: size) }
            #expect(isCase(error, .corruptObject), "size \(size)")
        }
    }

    @Test func corruptStreamsAreRejected() {
        let data = bytes("checked by adler-32")
        var badCheck = PackBuilder.zlibStored(data)
        badCheck[badCheck.count - 1] ^= 1
        var badHeader = PackBuilder.zlibStored(data)
        badHeader[1] ^= 1
        for stream in [badCheck, badHeader, [0xff, 0xff, 0xff, 0xff]] {
            let error = packError { try Inflater.inflate(stream, in: 0..<stream.count, expectedSize: data.count) }
            #expect(isCase(error, .corruptObject))
        }
    }
}

@Suite struct TreeAndCommitTests {
    let id = ObjectHasher.id(type: .blob, data: [])

    private func entry(_ mode: String, _ name: String) -> [UInt8] {
        bytes("\(mode) \(name)") + [0] + id.bytes
    }

    private func treeError(_ data: [UInt8]) -> GitFormatError? {
        switch Result(catching: { () throws(GitFormatError) -> [TreeEntry] in try TreeParser.parse(data) }) {
        case .success: nil
        case .failure(let error): error
        }
    }

    private func commitError(_ text: String) -> GitFormatError? {
        switch Result(catching: { () throws(GitFormatError) -> Commit in try Commit.parse(bytes(text)) }) {
        case .success: nil
        case .failure(let error): error
        }
    }

    private func isMalformedTree(_ error: GitFormatError?) -> Bool {
        if case .malformedTree? = error { return true }
        return false
    }

    private func isMalformedCommit(_ error: GitFormatError?) -> Bool {
        if case .malformedCommit? = error { return true }
        return false
    }

    @Test func knownObjectIDs() {
        #expect(id.hex == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        #expect(ObjectHasher.id(type: .tree, data: []).hex == "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
    }

    @Test func parsesAllModes() throws {
        let data = entry("100644", "a") + entry("100755", "b") + entry("120000", "c")
            + entry("40000", "d") + entry("160000", "e") + entry("100664", "f")
        let entries = try TreeParser.parse(data)
        #expect(entries.map(\.mode) == [0o100644, 0o100755, 0o120000, 0o40000, 0o160000, 0o100664])
        #expect(entries.map(\.kind) == [EntryKind.file, .executable, .symlink, .directory, .gitlink, .file])
        #expect(entries.map(\.name) == ["a", "b", "c", "d", "e", "f"].map(bytes))
        #expect(entries.allSatisfy { $0.id == id })
        #expect(try TreeParser.parse([]).isEmpty)
    }

    @Test func rejectsMalformedTrees() {
        let cases: [(String, [UInt8])] = [
            ("missing space", bytes("100644a") + [0] + id.bytes),
            ("mode only", bytes("100644")),
            ("missing NUL", bytes("100644 a")),
            ("empty name", bytes("100644 ") + [0] + id.bytes),
            ("slash in name", entry("100644", "a/b")),
            ("dot", entry("40000", ".")),
            ("dot dot", entry("40000", "..")),
            ("truncated id", Array(entry("100644", "a").dropLast())),
            ("non-octal mode", entry("100844", "a")),
            ("empty mode", bytes(" a") + [0] + id.bytes),
            ("unknown mode type", entry("170000", "a")),
            ("overlong mode", entry("00000100644", "a")),
            ("second entry truncated", entry("100644", "a") + bytes("100644 b")),
        ]
        for (name, data) in cases {
            let error = treeError(data)
            #expect(isMalformedTree(error), "\(name)")
        }
    }

    @Test func parsesCommits() throws {
        let text = """
            tree \(id.hex)
            parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904
            author A U Thor <author@example.com> 1600000000 +0200
            committer C O Mitter <committer@example.com> 1700000123 -0130
            gpgsig -----BEGIN PGP SIGNATURE-----
             committer Not Me <x@example.com> 5 +0000
             -----END PGP SIGNATURE-----

            message
            committer Also Not Me <y@example.com> 6 +0000

            """
        let commit = try Commit.parse(bytes(text))
        #expect(commit.tree == id)
        #expect(commit.committerTime == 1_700_000_123)
    }

    @Test func rejectsMalformedCommits() {
        let tree = "tree \(id.hex)\n"
        let committer = "committer C <c@example.com> 1700000000 +0000\n"
        let cases: [(String, String)] = [
            ("empty", ""),
            ("no tree", committer),
            ("tree not first", "parent \(id.hex)\n" + tree + committer),
            ("short tree id", "tree \(id.hex.dropLast())\n" + committer),
            ("bad hex", "tree \(String(repeating: "g", count: 40))\n" + committer),
            ("no committer", tree + "author A <a@example.com> 1 +0000\n"),
            ("committer only in message", tree + "\n" + committer),
            ("committer without time", tree + "committer C <c@example.com>\n"),
            ("committer without email", tree + "committer C 1700000000 +0000\n"),
            ("time with junk", tree + "committer C <c@example.com> 17x +0000\n"),
            ("time overflow", tree + "committer C <c@example.com> 99999999999999999999 +0000\n"),
        ]
        for (name, text) in cases {
            let error = commitError(text)
            #expect(isMalformedCommit(error), "\(name)")
        }
    }
}

// An object's hex form and its file in the content store ("xx/<38 hex>" under blobs/ or objects/).
@Suite struct ObjectPathTests {
    @Test func relativePathIsTheFanoutOfTheHexId() {
        let id = ObjectID(hex: "0Af0123456789abcdef0123456789abcdef01234")!
        #expect(id.hex == "0af0123456789abcdef0123456789abcdef01234")
        #expect(id.hexDigits == Array(id.hex.utf8))
        #expect(ObjectStore.relativePath(id) == Array("0a/f0123456789abcdef0123456789abcdef01234".utf8))
    }
}
