// Parsing of tree and commit object content. Decides which tree entries are acceptable: an octal
// mode of a regular file, symlink, directory or gitlink (regular files are executable when the
// owner-execute bit is set, as git canonicalises them), a non-empty name without '/' that is not
// "." or "..", and a complete 20-byte id. Anything else makes the whole tree malformed, since a
// tree that git itself would not write must not become a directory in the mounted checkout.
// Commits are read only as far as the mount needs: the root tree and the committer time.

/// Errors in the content of tree and commit objects.
public enum GitFormatError: Error, Equatable, Sendable {
    /// A tree object's content does not follow "<octal mode> <name>\0<20-byte id>"*.
    case malformedTree(String)
    /// A commit object lacks a valid "tree" first line or "committer" line.
    case malformedCommit(String)
}

/// What a tree entry stands for, derived from its mode.
public enum EntryKind: Sendable {
    /// A regular file (100644, also the legacy 100664).
    case file
    /// A regular file with the execute bit (100755).
    case executable
    /// A symbolic link (120000); the blob holds the target.
    case symlink
    /// A subdirectory (40000); the id names a tree.
    case directory
    /// A submodule commit (160000); the id names a commit in another repository.
    case gitlink

    /// The kind for a mode, or nil when the mode's type bits are none git writes.
    init?(mode: UInt32) {
        switch mode & 0o170000 {
        case 0o100000: self = mode & 0o100 != 0 ? .executable : .file
        case 0o120000: self = .symlink
        case 0o040000: self = .directory
        case 0o160000: self = .gitlink
        default: return nil
        }
    }
}

/// One entry of a tree object.
public struct TreeEntry: Sendable, Equatable {
    /// The mode as a number (the octal text parsed), e.g. 0o100644 or 0o40000.
    public let mode: UInt32
    /// The entry's name: raw bytes, never empty, never containing '/'.
    public let name: [UInt8]
    /// The id of the blob, tree or (for gitlinks) commit.
    public let id: ObjectID

    /// What the entry stands for, derived from `mode`.
    public var kind: EntryKind {
        // TreeParser only creates entries whose mode has a kind.
        EntryKind(mode: mode) ?? .file
    }

    /// True for entries whose content is a blob: files, executables and symlinks.
    public var isBlob: Bool { kind == .file || kind == .executable || kind == .symlink }

    init(mode: UInt32, name: [UInt8], id: ObjectID) {
        self.mode = mode
        self.name = name
        self.id = id
    }
}

/// Parses the content of tree objects.
public enum TreeParser {
    private static let space = UInt8(ascii: " ")
    private static let slash = UInt8(ascii: "/")
    private static let dot = UInt8(ascii: ".")

    /// The longest mode text accepted ("100644" has 6 digits; one more allows a leading zero).
    private static let maxModeDigits = 7

    /// Parses a tree object's content into its entries, in stored order.
    /// - Throws: `GitFormatError.malformedTree` for a missing space or NUL, a bad or unknown mode,
    ///   an empty name, a name containing '/' (or equal to "." or ".."), or a truncated id.
    public static func parse(_ data: [UInt8]) throws(GitFormatError) -> [TreeEntry] {
        var entries: [TreeEntry] = []
        var pos = 0
        let end = data.count
        while pos < end {
            // Mode: octal digits up to the space.
            var mode: UInt32 = 0
            var digits = 0
            while pos < end, data[pos] != space {
                let c = data[pos]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "7") else {
                    throw .malformedTree("non-octal character in mode at offset \(pos)")
                }
                guard digits < maxModeDigits else { throw .malformedTree("mode too long at offset \(pos)") }
                mode = mode << 3 | UInt32(c - UInt8(ascii: "0"))
                digits += 1
                pos += 1
            }
            guard pos < end else { throw .malformedTree("missing space after mode") }
            guard digits > 0 else { throw .malformedTree("empty mode at offset \(pos)") }
            guard EntryKind(mode: mode) != nil else {
                throw .malformedTree("unsupported mode \(String(mode, radix: 8))")
            }
            pos += 1

            // Name: up to the NUL.
            guard let nul = data[pos...].firstIndex(of: 0) else { throw .malformedTree("missing NUL after name") }
            let name = Array(data[pos..<nul])
            guard !name.isEmpty else { throw .malformedTree("empty name at offset \(pos)") }
            guard !name.contains(slash) else { throw .malformedTree("name containing '/' at offset \(pos)") }
            guard name != [dot], name != [dot, dot] else { throw .malformedTree("name '.' or '..' at offset \(pos)") }
            pos = nul + 1

            // Id: 20 raw bytes.
            guard end - pos >= 20, let id = ObjectID(bytes: Array(data[pos..<pos + 20])) else {
                throw .malformedTree("truncated object id at offset \(pos)")
            }
            pos += 20
            entries.append(TreeEntry(mode: mode, name: name, id: id))
        }
        return entries
    }
}

/// The parts of a commit object the mount uses.
public struct Commit: Sendable {
    /// The commit's root tree.
    public let tree: ObjectID
    /// The committer time, in seconds since the Unix epoch.
    public let committerTime: Int64

    /// Parses a commit object's content. The first line must be "tree <40 hex digits>"; the first
    /// "committer" header line must end in "<email> <unix-seconds> <timezone>".
    /// - Throws: `GitFormatError.malformedCommit` when either is missing or malformed.
    public static func parse(_ data: [UInt8]) throws(GitFormatError) -> Commit {
        let newline = UInt8(ascii: "\n")
        let treePrefix = Array("tree ".utf8)
        let committerPrefix = Array("committer ".utf8)
        var tree: ObjectID?
        var time: Int64?
        var pos = 0
        var isFirstLine = true
        // Headers run up to the first empty line; the message after it is ignored.
        while pos < data.count {
            let lineEnd = data[pos...].firstIndex(of: newline) ?? data.count
            let line = data[pos..<lineEnd]
            if line.isEmpty { break }
            if isFirstLine {
                guard line.starts(with: treePrefix), line.count == treePrefix.count + 40,
                      let id = ObjectID(hex: String(decoding: line.dropFirst(treePrefix.count), as: UTF8.self))
                else { throw .malformedCommit("first line is not \"tree <id>\"") }
                tree = id
                isFirstLine = false
            } else if time == nil, line.starts(with: committerPrefix) {
                time = try committerSeconds(line)
            }
            pos = lineEnd + 1
        }
        guard let tree else { throw .malformedCommit("missing tree line") }
        guard let time else { throw .malformedCommit("missing committer line") }
        return Commit(tree: tree, committerTime: time)
    }

    /// The seconds field of "committer Name <email> <seconds> <tz>": the number after the last '>'.
    private static func committerSeconds(_ line: ArraySlice<UInt8>) throws(GitFormatError) -> Int64 {
        guard let close = line.lastIndex(of: UInt8(ascii: ">")) else {
            throw .malformedCommit("committer line without '>'")
        }
        var pos = close + 1
        let end = line.endIndex
        guard pos < end, line[pos] == UInt8(ascii: " ") else {
            throw .malformedCommit("committer line without time")
        }
        pos += 1
        var negative = false
        if pos < end, line[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        var value: Int64 = 0
        var digits = 0
        while pos < end, line[pos] >= UInt8(ascii: "0"), line[pos] <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(line[pos] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw .malformedCommit("committer time out of range") }
            value = sum
            digits += 1
            pos += 1
        }
        guard digits > 0 else { throw .malformedCommit("committer line without time") }
        guard pos == end || line[pos] == UInt8(ascii: " ") else {
            throw .malformedCommit("committer time followed by junk")
        }
        return negative ? -value : value
    }
}

// Git keeps tree entries sorted by name, where a directory sorts as if its name ended in "/"
// (fsck rejects other orders). Lookups use that order for a binary search; a tree from an odd
// writer is put into that order once when it is loaded.
extension TreeEntry {
    /// Git's tree order: names compared bytewise, each as if followed by "/" (directories) or
    /// by a byte below every name byte (everything else).
    /// Generic so a lookup can search for a path component (a slice) without copying it.
    static func gitPrecedes<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, aIsDirectory: Bool,
                                                                       _ b: B, bIsDirectory: Bool) -> Bool {
        let markerA: UInt8 = aIsDirectory ? 0x2f : 0
        let markerB: UInt8 = bIsDirectory ? 0x2f : 0
        var bytesA = a.makeIterator(), bytesB = b.makeIterator()
        while true {
            switch (bytesA.next(), bytesB.next()) {
            case let (x?, y?): if x != y { return x < y }
            case let (x?, nil): return x < markerB  // equal would need a '/' or NUL in a name
            case let (nil, y?): return markerA <= y
            case (nil, nil): return markerA < markerB
            }
        }
    }

    var isDirectoryInTreeOrder: Bool { kind == .directory }
}

extension Array where Element == TreeEntry {
    /// True when the entries are in git's order (every tree git writes).
    var isInGitOrder: Bool {
        indices.dropFirst().allSatisfy { index in
            !TreeEntry.gitPrecedes(self[index].name, aIsDirectory: self[index].isDirectoryInTreeOrder,
                                   self[index - 1].name, bIsDirectory: self[index - 1].isDirectoryInTreeOrder)
        }
    }

    /// Puts the entries into git's order.
    func sortedInGitOrder() -> [TreeEntry] {
        sorted { TreeEntry.gitPrecedes($0.name, aIsDirectory: $0.isDirectoryInTreeOrder, $1.name, bIsDirectory: $1.isDirectoryInTreeOrder) }
    }

    /// The index of the entry called `name` in entries in git's order: a binary search for it
    /// as a non-directory, then as a directory.
    func gitIndex<Name: Collection<UInt8>>(of name: Name) -> Int? {
        for asDirectory in [false, true] {
            var low = 0, high = count
            while low < high {
                let middle = (low + high) / 2
                if TreeEntry.gitPrecedes(self[middle].name, aIsDirectory: self[middle].isDirectoryInTreeOrder, name, bIsDirectory: asDirectory) {
                    low = middle + 1
                } else {
                    high = middle
                }
            }
            if low < count, self[low].name.elementsEqual(name), self[low].isDirectoryInTreeOrder == asDirectory { return low }
        }
        return nil
    }
}
