// Directories whose contents a FUSE user shapes (the upper layer) must not lead the daemon,
// which may run as root, out of themselves. A path beneath one is built from the names the
// overlay knows, but between building it and using it another request can rename a
// directory and put a symlink in its place: `chmod a/etc/shadow` would then change /etc/shadow.
// For such a confined root, the *at helpers of FileDescriptor open the parent of a
// multi-component path with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and act on the
// last name relative to it, never following a symlink on the way (ELOOP instead). Paths of
// one name cost nothing more; other roots (read-only lowers, the Dicfuse cache) are unchanged.
// Every call that opens, creates, removes, renames or changes something is confined; `stat`
// is not: it reads metadata only, and a lookup stats each name in each layer (confining it
// made an untar into the mount twice as slow). A swapped path can at worst make a lookup report
// the attributes of a file outside the upper; any use of that node then fails.
import CScorpioLinux
import Glibc
import Synchronization
import SystemPackage

/// Descriptors of the confined roots (a handful: one upper per overlay).
private let confinedRoots = Mutex<[Int32]>([])

extension FileDescriptor {
    /// Makes paths beneath this directory descriptor resolve without symlinks, until
    /// `releaseConfinement()` (before the descriptor is closed).
    public func confine() {
        confinedRoots.withLock { $0.append(rawValue) }
    }

    public func releaseConfinement() {
        confinedRoots.withLock { roots in
            if let index = roots.firstIndex(of: rawValue) { roots.remove(at: index) }
        }
    }

    var isConfined: Bool { confinedRoots.withLock { $0.contains(rawValue) } }

    /// Runs `body` with a directory descriptor and a path relative to it naming what `path`
    /// names relative to this one: for a confined root and a path with a slash, the parent
    /// opened beneath it without symlinks, and the last name. A path too long for one system
    /// call (PATH_MAX, 4,096 bytes with its NUL; overlayfs has no such limit) gets its parent
    /// opened the same way beneath any root, a piece of at most `longPathPiece` bytes at a time.
    func beneath<R>(_ path: [UInt8], _ body: (Int32, [UInt8]) throws(Errno) -> R) throws(Errno) -> R {
        let long = path.count >= Self.longPathPiece
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")), long || isConfined else { return try body(rawValue, path) }
        let parent = try openDirectory(Array(path[..<slash]), confined: isConfined)
        defer { Glibc.close(parent) }
        return try body(parent, Array(path[path.index(after: slash)...]))
    }

    /// Where a long path is cut: well under PATH_MAX, and above any one name (255 bytes).
    static let longPathPiece = 3_072

    /// Opens the directory at `path` (O_PATH), piece by piece where it is long; `confined`
    /// resolves each piece beneath the last without symlinks (openat2), as for a short path.
    private func openDirectory(_ path: [UInt8], confined: Bool) throws(Errno) -> Int32 {
        var directory = rawValue
        var rest = path[...]
        while true {
            var piece = rest
            if rest.count >= Self.longPathPiece {
                let cut = rest[..<(rest.startIndex + Self.longPathPiece)].lastIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
                piece = rest[..<cut]
                rest = cut < rest.endIndex ? rest[rest.index(after: cut)...] : []
            } else {
                rest = []
            }
            let from = directory
            let opened: Int32
            do {
                opened = try withCPath(Array(piece)) { (p) throws(Errno) in
                    try retrying {
                        confined ? scorpio_open_directory_beneath(from, p)
                                 : openat(from, p, FileDescriptor.pathOnlyFlag | O_DIRECTORY | O_CLOEXEC)
                    }
                }
            } catch {
                if directory != rawValue { Glibc.close(directory) }
                throw error
            }
            if directory != rawValue { Glibc.close(directory) }
            directory = opened
            if rest.isEmpty { return directory }
        }
    }
}
