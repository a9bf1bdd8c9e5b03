// Path operations relative to a directory descriptor (the *at(2) family). The overlay keeps one
// descriptor per layer root and addresses every file by a path relative to it, so it never holds
// a descriptor per known inode (RLIMIT_NOFILE is 20,000 here and cannot be raised).
import CScorpioLinux
import Glibc
import Synchronization
import SystemPackage

/// Whether linkat(AT_EMPTY_PATH) works for this process (it needs CAP_DAC_READ_SEARCH).
private let emptyPathLinks = Atomic<Bool>(true)

/// Flags for `renameat2(2)`.
public struct RenameFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// RENAME_NOREPLACE
    public static let noReplace = RenameFlags(rawValue: 1)
    /// RENAME_EXCHANGE
    public static let exchange = RenameFlags(rawValue: 2)
    /// RENAME_WHITEOUT
    public static let whiteout = RenameFlags(rawValue: 4)
}

extension FileDescriptor {
    /// O_PATH, which glibc only declares with _GNU_SOURCE.
    public static let pathOnlyFlag: Int32 = scorpio_o_path()
    /// O_TMPFILE.
    public static let tmpFileFlag: Int32 = scorpio_o_tmpfile()

    /// fstatat(2); `followSymlinks: false` is AT_SYMLINK_NOFOLLOW. An empty path stats the fd itself.
    public func stat(at path: [UInt8], followSymlinks: Bool = false) throws(Errno) -> FileStat {
        var st = Glibc.stat()
        let flags = (followSymlinks ? 0 : AT_SYMLINK_NOFOLLOW) | (path.isEmpty ? atEmptyPath : 0)
        // Not confined (ConfinedRoots): a stat reads metadata only, and lookups stat every name.
        if path.count >= Self.longPathPiece {
            try beneath(path) { (dir, name) throws(Errno) in
                try withCPath(name) { (p) throws(Errno) in try retryingVoid { fstatat(dir, p, &st, flags) } }
            }
        } else {
            try withCPath(path) { (p) throws(Errno) in try retryingVoid { fstatat(rawValue, p, &st, flags) } }
        }
        return FileStat(st)
    }

    /// fstat(2).
    public func stat() throws(Errno) -> FileStat {
        var st = Glibc.stat()
        try retryingVoid { fstat(rawValue, &st) }
        return FileStat(st)
    }

    /// openat(2) with O_CLOEXEC always added. Returns the new descriptor; the caller closes it.
    public func open(at path: [UInt8], flags: Int32, mode: UInt32 = 0) throws(Errno) -> FileDescriptor {
        let fd = try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(name) { (p) throws(Errno) in try retrying { openat(dir, p, flags | O_CLOEXEC, mode_t(mode)) } }
        }
        return FileDescriptor(rawValue: fd)
    }

    /// mkdirat(2).
    public func makeDirectory(at path: [UInt8], mode: UInt32) throws(Errno) {
        try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(name) { (p) throws(Errno) in try retryingVoid { mkdirat(dir, p, mode_t(mode)) } }
        }
    }

    /// mknodat(2).
    public func makeNode(at path: [UInt8], mode: UInt32, device: UInt64) throws(Errno) {
        try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(name) { (p) throws(Errno) in try retryingVoid { mknodat(dir, p, mode_t(mode), dev_t(device)) } }
        }
    }

    /// symlinkat(2): creates `path` pointing at `target`.
    public func makeSymlink(at path: [UInt8], target: [UInt8]) throws(Errno) {
        try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(target) { (t) throws(Errno) in
                try withCPath(name) { (p) throws(Errno) in try retryingVoid { symlinkat(t, dir, p) } }
            }
        }
    }

    /// linkat(2) within this directory tree; never follows a final symlink.
    public func link(from oldPath: [UInt8], to newPath: [UInt8]) throws(Errno) {
        try beneath(oldPath) { (oldDir, oldName) throws(Errno) in
            try beneath(newPath) { (newDir, newName) throws(Errno) in
                try withCPath(oldName) { (o) throws(Errno) in
                    try withCPath(newName) { (n) throws(Errno) in try retryingVoid { linkat(oldDir, o, newDir, n, 0) } }
                }
            }
        }
    }

    /// Gives an O_TMPFILE descriptor a name: linkat(2) with AT_EMPTY_PATH where we have
    /// CAP_DAC_READ_SEARCH (root), else through /proc/self/fd, which needs no capability but
    /// costs a path walk through procfs (4% of the daemon's CPU in a cold Dicfuse read).
    public func linkAnonymous(_ file: FileDescriptor, to newPath: [UInt8]) throws(Errno) {
        try beneath(newPath) { (dir, name) throws(Errno) in try linkAnonymous(file, into: dir, name: name) }
    }

    private func linkAnonymous(_ file: FileDescriptor, into directory: Int32, name newPath: [UInt8]) throws(Errno) {
        if emptyPathLinks.load(ordering: .relaxed) {
            let linked = try withCPath(newPath) { n in linkat(file.rawValue, "", directory, n, atEmptyPath) }
            if linked == 0 { return }
            guard errno == ENOENT else { throw Errno(rawValue: errno) }
            // ENOENT: no capability (or no directory, which the fallback reports the same way).
            emptyPathLinks.store(false, ordering: .relaxed)
        }
        let procPath = Array("/proc/self/fd/\(file.rawValue)".utf8)
        try withCPath(procPath) { (o) throws(Errno) in
            try withCPath(newPath) { (n) throws(Errno) in
                try retryingVoid { linkat(AT_FDCWD, o, directory, n, AT_SYMLINK_FOLLOW) }
            }
        }
    }

    /// unlinkat(2); `directory: true` is AT_REMOVEDIR.
    public func remove(at path: [UInt8], directory: Bool) throws(Errno) {
        try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(name) { (p) throws(Errno) in try retryingVoid { unlinkat(dir, p, directory ? AT_REMOVEDIR : 0) } }
        }
    }

    /// renameat2(2) within this directory tree.
    public func rename(from oldPath: [UInt8], to newPath: [UInt8], flags: RenameFlags = []) throws(Errno) {
        try beneath(oldPath) { (oldDir, oldName) throws(Errno) in
            try beneath(newPath) { (newDir, newName) throws(Errno) in
                try withCPath(oldName) { (o) throws(Errno) in
                    try withCPath(newName) { (n) throws(Errno) in
                        try retryingVoid { scorpio_renameat2(oldDir, o, newDir, n, flags.rawValue) }
                    }
                }
            }
        }
    }

    /// readlinkat(2); returns the raw target bytes.
    public func readLink(at path: [UInt8]) throws(Errno) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(name) { (p) throws(Errno) in
                try typedErrno {
                    try buffer.withUnsafeMutableBytes { raw in
                        try retrying { readlinkat(dir, p, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count) }
                    }
                }
            }
        }
        return Array(buffer[0..<count])
    }

    /// fchmodat(2) with AT_SYMLINK_NOFOLLOW, so a symlink raced into the path's place is refused
    /// rather than followed (Linux cannot change a symlink's mode; callers never ask to). fchmodat
    /// takes no AT_EMPTY_PATH: an empty path (the directory itself) goes through fchmod.
    public func changeMode(at path: [UInt8], to mode: UInt32) throws(Errno) {
        if path.isEmpty {
            try retryingVoid { fchmod(rawValue, mode_t(mode)) }
            return
        }
        try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(name) { (p) throws(Errno) in try retryingVoid { scorpio_fchmodat_nofollow(dir, p, UInt32(mode)) } }
        }
    }

    /// fchownat(2) with AT_SYMLINK_NOFOLLOW; UInt32.max leaves a field unchanged (as -1 does).
    public func changeOwner(at path: [UInt8], uid: UInt32, gid: UInt32) throws(Errno) {
        let flags = AT_SYMLINK_NOFOLLOW | (path.isEmpty ? atEmptyPath : 0)
        try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(name) { (p) throws(Errno) in try retryingVoid { fchownat(dir, p, uid, gid, flags) } }
        }
    }

    /// utimensat(2) with AT_SYMLINK_NOFOLLOW. nil leaves a time unchanged (UTIME_OMIT);
    /// `.now` sets it to the current time (UTIME_NOW).
    public func setTimes(at path: [UInt8], access: TimeUpdate, modification: TimeUpdate) throws(Errno) {
        var times = [access.timespecValue, modification.timespecValue]
        let flags = AT_SYMLINK_NOFOLLOW | (path.isEmpty ? atEmptyPath : 0)
        try beneath(path) { (dir, name) throws(Errno) in
            try withCPath(name) { (p) throws(Errno) in try retryingVoid { utimensat(dir, p, &times, flags) } }
        }
    }

    /// Runs `body` with the path /proc/self/fd/N/<name> for `path`, for calls that have no *at
    /// form (the l*xattr family); N is this directory or, beneath a confined root, the parent
    /// (ConfinedRoots), held open meanwhile. An empty `path` (this directory itself) gives
    /// /proc/self/fd/N/.: the l* calls would act on the magic link /proc/self/fd/N itself.
    public func withProcPath<R>(_ path: [UInt8], _ body: ([UInt8]) throws(Errno) -> R) throws(Errno) -> R {
        try beneath(path) { (dir, name) throws(Errno) in
            var result = Array("/proc/self/fd/\(dir)/".utf8)
            result.append(contentsOf: name.isEmpty ? [UInt8(ascii: ".")] : name)
            return try body(result)
        }
    }
}

/// A time to set with utimensat(2).
public enum TimeUpdate: Sendable, Equatable {
    case omit
    case now
    case time(TimeSpec)

    var timespecValue: timespec {
        switch self {
        case .omit: timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 2))  // UTIME_OMIT
        case .now: timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 1))  // UTIME_NOW
        case .time(let t): t.timespecValue
        }
    }
}
