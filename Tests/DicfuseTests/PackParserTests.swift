// Pack parsing against real git: packs written by `git pack-objects` (OFS_DELTA and REF_DELTA
// flavours) must yield exactly the objects `git rev-list --objects --all` names, with the content
// `git cat-file` prints, trees that match `git ls-tree` and commits that match `git rev-parse`.
// Damaged packs (flipped bytes, truncation, bytes changed inside a zlib stream with a recomputed
// trailer) must be rejected with a PackError, never crash.
import Foundation
import Testing
@testable import Dicfuse

@Suite struct PackParserGitTests {
    @Test func offsetDeltaPackMatchesGit() throws {
        let repo = try makeSampleRepo()
        defer { repo.remove() }
        let pack = try repo.git(
            ["pack-objects", "--stdout", "--revs", "--delta-base-offset"], input: bytes("HEAD\n"))
        let kinds = try PackParser.scan(pack).map(\.kind)
        let hasOffsetDelta = kinds.contains { kind in
            if case .offsetDelta = kind { return true }
            return false
        }
        #expect(hasOffsetDelta, "the sample repository should produce OFS_DELTA entries")
        try checkAgainstGit(pack, repo: repo)
    }

    @Test func refDeltaPackMatchesGit() throws {
        let repo = try makeSampleRepo()
        defer { repo.remove() }
        let pack = try repo.git(
            ["-c", "pack.window=10", "pack-objects", "--stdout", "--revs"], input: bytes("HEAD\n"))
        let kinds = try PackParser.scan(pack).map(\.kind)
        let hasRefDelta = kinds.contains { kind in
            if case .refDelta = kind { return true }
            return false
        }
        let hasOffsetDelta = kinds.contains { kind in
            if case .offsetDelta = kind { return true }
            return false
        }
        #expect(hasRefDelta, "the sample repository should produce REF_DELTA entries")
        #expect(!hasOffsetDelta)
        try checkAgainstGit(pack, repo: repo)
    }

    /// Parses `pack` and compares every object with what git says about the repository.
    private func checkAgainstGit(_ pack: [UInt8], repo: GitRepo) throws {
        let objects = try PackParser.parse(pack)
        let byID = Dictionary(objects.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

        // The same set of objects.
        let expected = Set(try repo.lines(["rev-list", "--objects", "--all"]).map { String($0.prefix(40)) })
        #expect(Set(objects.map(\.id.hex)) == expected)
        #expect(objects.count == expected.count)

        // Types and sizes as git reports them.
        let query = bytes(objects.map { $0.id.hex + "\n" }.joined())
        for line in try repo.lines(["cat-file", "--batch-check"], input: query) {
            let fields = line.split(separator: " ").map(String.init)
            try #require(fields.count == 3)
            let object = try #require(ObjectID(hex: fields[0]).flatMap { byID[$0] })
            #expect(object.type.name == fields[1])
            #expect(String(object.data.count) == fields[2])
        }

        // Blob content.
        for object in objects where object.type == .blob {
            let content = try repo.git(["cat-file", "blob", object.id.hex])
            #expect(object.data == content, "blob \(object.id.hex)")
        }

        // Every tree and commit parses.
        for object in objects where object.type == .tree {
            #expect(packErrorFree { () throws(GitFormatError) in _ = try TreeParser.parse(object.data) })
        }
        for object in objects where object.type == .commit {
            #expect(packErrorFree { () throws(GitFormatError) in _ = try Commit.parse(object.data) })
        }

        // The root tree against `git ls-tree`.
        let treeID = try #require(ObjectID(hex: try repo.text(["rev-parse", "HEAD^{tree}"])))
        let tree = try #require(byID[treeID])
        #expect(tree.type == .tree)
        let entries = try TreeParser.parse(tree.data)
        let listed = try lsTree(repo)
        #expect(entries.map(\.mode) == listed.map { $0.mode })
        #expect(entries.map(\.name) == listed.map { $0.name })
        #expect(entries.map(\.id) == listed.map { $0.id })
        let kinds = Dictionary(entries.map { (String(decoding: $0.name, as: UTF8.self), $0.kind) },
                               uniquingKeysWith: { first, _ in first })
        #expect(kinds["README.md"] == EntryKind.file)
        #expect(kinds["empty.txt"] == EntryKind.file)
        #expect(kinds["run.sh"] == EntryKind.executable)
        #expect(kinds["link"] == EntryKind.symlink)
        #expect(kinds["dir"] == EntryKind.directory)

        // The head commit.
        let headID = try #require(ObjectID(hex: try repo.text(["rev-parse", "HEAD"])))
        let head = try #require(byID[headID])
        #expect(head.type == .commit)
        let commit = try Commit.parse(head.data)
        #expect(commit.tree == treeID)
        #expect(commit.committerTime == sampleCommitTimes[2])
    }

    /// `git ls-tree -z HEAD` as (mode, name, id) triples.
    private func lsTree(_ repo: GitRepo) throws -> [(mode: UInt32, name: [UInt8], id: ObjectID)] {
        let output = try repo.git(["ls-tree", "-z", "HEAD"])
        var result: [(mode: UInt32, name: [UInt8], id: ObjectID)] = []
        for record in output.split(separator: 0) {
            let tab = try #require(record.firstIndex(of: UInt8(ascii: "\t")))
            let fields = String(decoding: record[record.startIndex..<tab], as: UTF8.self).split(separator: " ")
            try #require(fields.count == 3)
            let mode = try #require(UInt32(fields[0], radix: 8))
            let id = try #require(ObjectID(hex: fields[2]))
            result.append((mode, Array(record[(tab + 1)...]), id))
        }
        return result
    }
}

/// True when `body` does not throw.
private func packErrorFree(_ body: () throws(GitFormatError) -> Void) -> Bool {
    if case .success = Result(catching: body) { return true }
    return false
}

@Suite struct DamagedPackTests {
    /// A real pack with deltas from the sample repository.
    private func samplePack() throws -> [UInt8] {
        let repo = try makeSampleRepo()
        defer { repo.remove() }
        return try repo.git(
            ["pack-objects", "--stdout", "--revs", "--delta-base-offset"], input: bytes("HEAD\n"))
    }

    @Test func flippedByteFailsTheChecksum() throws {
        var pack = try samplePack()
        pack[pack.count / 2] ^= 0xff
        let error = packError { try PackParser.parse(pack) }
        #expect(error == PackError.checksumMismatch)
    }

    @Test func truncatedPacksAreRejected() throws {
        let pack = try samplePack()
        let cuts = [0, 1, 3, 4, 8, 11, 12, 13, 31, 32, 33, pack.count / 3, pack.count / 2,
                    pack.count - 21, pack.count - 20, pack.count - 1]
        for cut in cuts {
            #expect(packError { try PackParser.parse(Array(pack[..<cut])) } != nil, "cut at \(cut)")
        }
    }

    @Test func truncatedBodiesWithValidTrailersAreRejected() throws {
        let pack = try samplePack()
        let body = Array(pack[..<(pack.count - 20)])
        for cut in stride(from: 12, to: body.count, by: max(1, body.count / 60)) {
            let damaged = PackBuilder.withChecksum(Array(body[..<cut]))
            #expect(packError { try PackParser.parse(damaged) } != nil, "body cut at \(cut)")
        }
        // Dropping the last byte of the last entry's zlib stream.
        let damaged = PackBuilder.withChecksum(Array(body.dropLast()))
        #expect(packError { try PackParser.parse(damaged) } != nil)
    }

    @Test func changedZlibByteWithValidTrailerIsRejected() throws {
        let pack = try samplePack()
        let entries = try PackParser.scan(pack)
        try #require(entries.count >= 2)
        // The first entry is a whole object; its zlib stream starts after the size header.
        var streamStart = 12
        while pack[streamStart] & 0x80 != 0 { streamStart += 1 }
        streamStart += 1
        let streamEnd = entries[1].offset
        try #require(streamEnd - streamStart > 8)
        var body = Array(pack[..<(pack.count - 20)])
        body[streamStart + (streamEnd - streamStart) / 2] ^= 0xff
        let damaged = PackBuilder.withChecksum(body)
        #expect(packError { try PackParser.parse(damaged) } != nil)
    }

    @Test func changedBytesWithValidTrailerNeverCrash() throws {
        let pack = try samplePack()
        let body = Array(pack[..<(pack.count - 20)])
        for position in stride(from: 12, to: body.count, by: max(1, body.count / 80)) {
            var changed = body
            changed[position] ^= 0x5a
            // Either outcome is acceptable; the point is that parsing returns.
            _ = packError { try PackParser.parse(PackBuilder.withChecksum(changed)) }
        }
    }
}
