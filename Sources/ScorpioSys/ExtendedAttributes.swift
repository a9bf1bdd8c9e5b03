// Extended attributes of a path without following a final symlink (l*xattr(2)). Paths come
// from FileDescriptor.procPath, so they stay relative to a layer's root descriptor.
import CScorpioLinux
import Glibc
import SystemPackage

/// The l*xattr(2) family on byte paths.
public enum ExtendedAttributes {
    /// lgetxattr(2). With `size == 0` returns the value's size only.
    public static func get(path: [UInt8], name: [UInt8], into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try withCPath(path) { (p) throws(Errno) in
            try withCPath(name) { (n) throws(Errno) in
                try retrying { scorpio_lgetxattr(p, n, buffer.baseAddress, buffer.count) }
            }
        }
    }

    /// lgetxattr(2) returning the whole value, or nil when the attribute is absent (ENODATA).
    public static func value(path: [UInt8], name: [UInt8]) throws(Errno) -> [UInt8]? {
        do {
            while true {
                let size = try get(path: path, name: name, into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
                var value = [UInt8](repeating: 0, count: size)
                do {
                    let got = try typedErrno { try value.withUnsafeMutableBytes { try get(path: path, name: name, into: $0) } }
                    return Array(value[0..<got])
                } catch .outOfRange {
                    continue  // grew between the two calls
                }
            }
        } catch .noData {
            return nil
        }
    }

    /// lsetxattr(2); `flags` are XATTR_CREATE (1) / XATTR_REPLACE (2).
    public static func set(path: [UInt8], name: [UInt8], value: UnsafeRawBufferPointer, flags: Int32) throws(Errno) {
        try withCPath(path) { (p) throws(Errno) in
            try withCPath(name) { (n) throws(Errno) in
                try retryingVoid { scorpio_lsetxattr(p, n, value.baseAddress, value.count, flags) }
            }
        }
    }

    /// fsetxattr(2), for descriptors that have no usable path (O_TMPFILE files).
    public static func set(descriptor: FileDescriptor, name: [UInt8], value: UnsafeRawBufferPointer, flags: Int32) throws(Errno) {
        try withCPath(name) { (n) throws(Errno) in
            try retryingVoid { scorpio_fsetxattr(descriptor.rawValue, n, value.baseAddress, value.count, flags) }
        }
    }

    /// fgetxattr(2). With `size == 0` returns the value's size only.
    public static func get(descriptor: FileDescriptor, name: [UInt8], into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try withCPath(name) { (n) throws(Errno) in
            try retrying { scorpio_fgetxattr(descriptor.rawValue, n, buffer.baseAddress, buffer.count) }
        }
    }

    /// flistxattr(2) into `buffer`; with an empty buffer returns the list's size.
    public static func list(descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retrying { scorpio_flistxattr(descriptor.rawValue, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), buffer.count) }
    }

    /// fremovexattr(2).
    public static func remove(descriptor: FileDescriptor, name: [UInt8]) throws(Errno) {
        try withCPath(name) { (n) throws(Errno) in
            try retryingVoid { scorpio_fremovexattr(descriptor.rawValue, n) }
        }
    }

    /// llistxattr(2) into `buffer`; with an empty buffer returns the list's size.
    public static func list(path: [UInt8], into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try withCPath(path) { (p) throws(Errno) in
            try retrying { scorpio_llistxattr(p, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), buffer.count) }
        }
    }

    /// All attribute names of `path`.
    public static func names(path: [UInt8]) throws(Errno) -> [[UInt8]] {
        try names { (buffer) throws(Errno) in try list(path: path, into: buffer) }
    }

    /// The names a list call gives (its size first, then the list, again if it grew meanwhile).
    private static func names(_ list: (UnsafeMutableRawBufferPointer) throws(Errno) -> Int) throws(Errno) -> [[UInt8]] {
        while true {
            let size = try list(UnsafeMutableRawBufferPointer(start: nil, count: 0))
            if size == 0 { return [] }
            var raw = [UInt8](repeating: 0, count: size)
            do {
                let got = try typedErrno { try raw.withUnsafeMutableBytes { try list($0) } }
                return raw[0..<got].split(separator: 0).map(Array.init)
            } catch .outOfRange {
                continue
            }
        }
    }

    /// All attribute names of an open file.
    public static func names(descriptor: FileDescriptor) throws(Errno) -> [[UInt8]] {
        try names { (buffer) throws(Errno) in try list(descriptor: descriptor, into: buffer) }
    }

    /// lremovexattr(2).
    public static func remove(path: [UInt8], name: [UInt8]) throws(Errno) {
        try withCPath(path) { (p) throws(Errno) in
            try withCPath(name) { (n) throws(Errno) in try retryingVoid { scorpio_lremovexattr(p, n) } }
        }
    }
}
