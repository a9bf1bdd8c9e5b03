// Reads a whole directory with readdir(3). The overlay lists a directory once per opendir (or
// rewind) and serves READDIR from that snapshot, so a plain full listing is all it needs.
import CScorpioLinux
import Glibc
import SystemPackage

/// One entry of a host directory: raw name bytes, DT_* type and inode number.
public struct HostDirectoryEntry: Sendable, Equatable {
    public var name: [UInt8]
    public var direntType: UInt8
    public var inode: UInt64

    public init(name: [UInt8], direntType: UInt8, inode: UInt64) {
        self.name = name; self.direntType = direntType; self.inode = inode
    }
}

extension FileDescriptor {
    /// Lists the directory at `path` (relative to this descriptor), without "." and "..".
    public func listDirectory(at path: [UInt8]) throws(Errno) -> [HostDirectoryEntry] {
        let dirFD = try open(at: path.isEmpty ? Array(".".utf8) : path, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        guard let stream = fdopendir(dirFD.rawValue) else {
            let error = Errno(rawValue: Glibc.errno)
            dirFD.closeQuietly()
            throw error
        }
        defer { closedir(stream) }
        var entries: [HostDirectoryEntry] = []
        while true {
            Glibc.errno = 0
            guard let entry = readdir(stream) else {
                if Glibc.errno != 0 { throw Errno(rawValue: Glibc.errno) }
                return entries
            }
            // SAFETY: d_name is NUL-terminated and lives until the next readdir call.
            let namePointer = scorpio_dirent_name(entry)!
            let length = strlen(namePointer)
            let name = namePointer.withMemoryRebound(to: UInt8.self, capacity: length) {
                Array(UnsafeBufferPointer(start: $0, count: length))
            }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            entries.append(HostDirectoryEntry(name: name, direntType: scorpio_dirent_type(entry), inode: scorpio_dirent_ino(entry)))
        }
    }
}
