// Helpers for the git object and pack tests: a throwaway repository driven through /usr/bin/git
// (isolated from the user's and system git configuration, with fixed author and committer
// dates), and builders for hand-made packs: zlib streams written as stored (uncompressed)
// deflate blocks, entry headers, OFS_DELTA distances, delta size headers and the SHA-1 trailer.
import Foundation
import Testing
@testable import Dicfuse

// MARK: - A temporary git repository

struct GitFailure: Error, CustomStringConvertible {
    let description: String
}

/// A git repository in a fresh temporary directory. Call `remove()` when done.
struct GitRepo {
    let root: URL

    /// Creates an empty repository.
    static func create() throws -> GitRepo {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("dicfuse-git-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let repo = GitRepo(root: root)
        try repo.git(["init", "-q"])
        return repo
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }

    /// Runs git in the repository and returns its standard output.
    /// - Parameters:
    ///   - input: written to git's standard input, which is then closed.
    ///   - time: author and committer time (seconds since the epoch, UTC).
    @discardableResult
    func git(_ arguments: [String], input: [UInt8] = [], time: Int64 = 1_700_000_000) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = arguments
        process.currentDirectoryURL = root
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GIT_") }
        environment["HOME"] = root.path
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
        environment["GIT_AUTHOR_NAME"] = "Pack Test"
        environment["GIT_AUTHOR_EMAIL"] = "pack@example.com"
        environment["GIT_COMMITTER_NAME"] = "Pack Test"
        environment["GIT_COMMITTER_EMAIL"] = "pack@example.com"
        environment["GIT_AUTHOR_DATE"] = "\(time) +0000"
        environment["GIT_COMMITTER_DATE"] = "\(time) +0000"
        process.environment = environment

        let stdout = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        process.standardError = FileHandle.nullDevice
        try process.run()
        try stdin.fileHandleForWriting.write(contentsOf: input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GitFailure(description: "git \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return [UInt8](output)
    }

    /// Runs git and returns its output as text without the trailing newline.
    func text(_ arguments: [String], input: [UInt8] = []) throws -> String {
        String(decoding: try git(arguments, input: input), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs git and returns its output split into non-empty lines.
    func lines(_ arguments: [String], input: [UInt8] = []) throws -> [String] {
        String(decoding: try git(arguments, input: input), as: UTF8.self)
            .split(separator: "\n").map(String.init)
    }

    /// Writes a file (creating parent directories).
    func write(_ path: String, _ contents: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: url)
    }

    func makeExecutable(_ path: String) throws {
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o755], ofItemAtPath: root.appendingPathComponent(path).path)
    }

    func symlink(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent(path).path, withDestinationPath: target)
    }

    /// Stages everything and commits at `time`.
    func commitAll(_ message: String, time: Int64) throws {
        try git(["add", "-A"], time: time)
        try git(["commit", "-q", "-m", message], time: time)
    }
}

/// The committer times of the sample repository's three commits.
let sampleCommitTimes: [Int64] = [1_700_000_100, 1_700_000_200, 1_700_000_300]

/// A repository with three commits: a large text file changed in each (so packs hold deltas),
/// an executable, a symlink, an empty file and nested directories.
func makeSampleRepo() throws -> GitRepo {
    let repo = try GitRepo.create()
    do {
        var lines = (0..<3000).map { "line \($0): the quick brown fox jumps over the lazy dog\n" }
        try repo.write("README.md", "# sample\n")
        try repo.write("big.txt", lines.joined())
        try repo.write("run.sh", "#!/bin/sh\necho hello\n")
        try repo.makeExecutable("run.sh")
        try repo.symlink("link", to: "README.md")
        try repo.write("empty.txt", "")
        try repo.write("dir/other.txt", "other\n")
        try repo.write("dir/nested/deep.txt", "deep\n")
        try repo.commitAll("first", time: sampleCommitTimes[0])

        lines[10] = "line 10 changed in the second commit\n"
        lines[1500] = "line 1500 changed in the second commit\n"
        try repo.write("big.txt", lines.joined())
        try repo.write("dir/nested/new.txt", "new\n")
        try repo.commitAll("second", time: sampleCommitTimes[1])

        lines[2000] = "line 2000 changed in the third commit\n"
        lines.append("an appended line\n")
        try repo.write("big.txt", lines.joined())
        try repo.write("README.md", "# sample\n\nThird commit.\n")
        try repo.commitAll("third", time: sampleCommitTimes[2])
    } catch {
        repo.remove()
        throw error
    }
    return repo
}

// MARK: - Hand-made packs

/// Builders for pack bytes, independent of the code under test except for SHA-1.
enum PackBuilder {
    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }

    /// A zlib stream holding `data` in stored (uncompressed) deflate blocks.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var pos = 0
        repeat {
            let count = min(65535, data.count - pos)
            let isFinal = pos + count == data.count
            out.append(isFinal ? 1 : 0)
            out += [UInt8(count & 0xff), UInt8(count >> 8), UInt8(~count & 0xff), UInt8((~count >> 8) & 0xff)]
            out += data[pos..<pos + count]
            pos += count
        } while pos < data.count
        let check = adler32(data)
        out += [UInt8(check >> 24), UInt8((check >> 16) & 0xff), UInt8((check >> 8) & 0xff), UInt8(check & 0xff)]
        return out
    }

    /// A pack entry header: type and size.
    static func entryHeader(type: UInt8, size: Int) -> [UInt8] {
        var out: [UInt8] = []
        var byte = type << 4 | UInt8(size & 0x0f)
        var rest = size >> 4
        while rest > 0 {
            out.append(byte | 0x80)
            byte = UInt8(rest & 0x7f)
            rest >>= 7
        }
        out.append(byte)
        return out
    }

    /// An OFS_DELTA distance in git's encoding (big-endian, +1 per continuation).
    static func baseDistance(_ distance: Int) -> [UInt8] {
        var value = distance
        var out: [UInt8] = [UInt8(value & 0x7f)]
        value >>= 7
        while value != 0 {
            value -= 1
            out.insert(0x80 | UInt8(value & 0x7f), at: 0)
            value >>= 7
        }
        return out
    }

    /// A delta size header (little-endian 7-bit groups).
    static func deltaSize(_ size: Int) -> [UInt8] {
        var value = size
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    /// A delta that rebuilds `target` from `base` with insert instructions only.
    static func insertDelta(from base: [UInt8], to target: [UInt8]) -> [UInt8] {
        var out = deltaSize(base.count) + deltaSize(target.count)
        var pos = 0
        while pos < target.count {
            let count = min(127, target.count - pos)
            out.append(UInt8(count))
            out += target[pos..<pos + count]
            pos += count
        }
        return out
    }

    static func plainEntry(_ type: ObjectType, _ data: [UInt8]) -> [UInt8] {
        entryHeader(type: type.rawValue, size: data.count) + zlibStored(data)
    }

    static func refDeltaEntry(base: ObjectID, delta: [UInt8]) -> [UInt8] {
        entryHeader(type: 7, size: delta.count) + base.bytes + zlibStored(delta)
    }

    static func offsetDeltaEntry(distance: Int, delta: [UInt8]) -> [UInt8] {
        entryHeader(type: 6, size: delta.count) + baseDistance(distance) + zlibStored(delta)
    }

    /// A complete pack: header, the entries, SHA-1 trailer. `count` overrides the object count.
    static func pack(_ entries: [[UInt8]], count: Int? = nil, version: UInt32 = 2) -> [UInt8] {
        let objects = UInt32(count ?? entries.count)
        var body = Array("PACK".utf8)
        for value in [version, objects] {
            body += [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
        }
        for entry in entries { body += entry }
        return withChecksum(body)
    }

    /// `body` followed by its SHA-1.
    static func withChecksum(_ body: [UInt8]) -> [UInt8] {
        body + ObjectHasher.sha1(body)
    }
}

/// The PackError a throwing call ends with, or nil when it succeeds. Any other error is
/// recorded as a test issue (the code under test throws only PackError).
func packError<T>(_ body: () throws -> T) -> PackError? {
    do {
        _ = try body()
        return nil
    } catch let error as PackError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Three small blobs for hand-made packs (alpha long enough to serve as a delta base), and
/// their ids.
protocol SampleBlobs {}

extension SampleBlobs {
    var alpha: [UInt8] { bytes("alpha content, long enough to serve as a delta base\n") }
    var beta: [UInt8] { bytes("beta content\n") }
    var gamma: [UInt8] { bytes("gamma content\n") }
    var alphaID: ObjectID { ObjectHasher.id(type: .blob, data: alpha) }
    var betaID: ObjectID { ObjectHasher.id(type: .blob, data: beta) }
    var gammaID: ObjectID { ObjectHasher.id(type: .blob, data: gamma) }
}
