// Unix stream sockets with descriptor passing: the vhost-user control channel (QEMU connects to
// a socket the backend listens on and passes memory and eventfd descriptors with SCM_RIGHTS).
import CScorpioLinux
import Glibc
import SystemPackage

public enum UnixSocket {
    /// Creates, binds and listens on `path` with mode 0600 (the umask is narrowed around bind,
    /// so the file never exists with wider permissions).
    public static func listen(path: String, backlog: Int32 = 4) throws(Errno) -> FileDescriptor {
        let fd = try retrying { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let descriptor = FileDescriptor(rawValue: fd)
        do throws(Errno) {
            try withAddress(path) { address, length throws(Errno) in
                let previous = umask(0o177)
                defer { umask(previous) }
                try retryingVoid { bind(fd, address, length) }
            }
            try retryingVoid { Glibc.listen(fd, backlog) }
            return descriptor
        } catch {
            descriptor.closeQuietly()
            throw error
        }
    }

    /// Connects to a listening socket at `path`.
    public static func connect(path: String) throws(Errno) -> FileDescriptor {
        let fd = try retrying { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do throws(Errno) {
            try withAddress(path) { address, length throws(Errno) in try retryingVoid { Glibc.connect(fd, address, length) } }
            return FileDescriptor(rawValue: fd)
        } catch {
            close(fd)
            throw error
        }
    }

    /// accept(2) with close-on-exec.
    public static func accept(_ listener: FileDescriptor) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retrying { scorpio_accept_cloexec(listener.rawValue) })
    }

    /// shutdown(2) both directions: wakes a thread blocked in accept or recv on `socket`.
    public static func shutdown(_ socket: FileDescriptor) {
        _ = Glibc.shutdown(socket.rawValue, Int32(SHUT_RDWR))
    }

    /// Removes a socket file left by `listen` (errors ignored: it may be gone already).
    public static func removeSocketFile(_ path: String) {
        _ = unlink(path)
    }

    /// A connected pair (tests drive the backend through one end).
    public static func pair() throws(Errno) -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try retryingVoid { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// Receives up to `buffer.count` bytes and the descriptors sent with them (at most 8).
    /// Returns 0 bytes at end of stream.
    public static func receive(_ socket: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer,
                               descriptors: inout [FileDescriptor]) throws(Errno) -> Int {
        var fds = [Int32](repeating: -1, count: 8)
        var count: Int32 = 0
        let received = try retrying { scorpio_recv_with_fds(socket.rawValue, buffer.baseAddress, buffer.count, &fds, 8, &count) }
        for index in 0..<Int(count) { descriptors.append(FileDescriptor(rawValue: fds[index])) }
        return received
    }

    /// Sends all of `bytes`, with `descriptors` attached to the first part.
    public static func send(_ socket: FileDescriptor, _ bytes: UnsafeRawBufferPointer, descriptors: [FileDescriptor] = []) throws(Errno) {
        var offset = 0
        var fds = descriptors.map(\.rawValue)
        while offset < bytes.count {
            let sent = try retrying {
                scorpio_send_with_fds(socket.rawValue, bytes.baseAddress! + offset, bytes.count - offset, fds, Int32(fds.count))
            }
            offset += sent
            fds = []
        }
    }

    private static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> R) throws(Errno) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .fileNameTooLong }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result: Result<R, Errno> = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                do throws(Errno) { return .success(try body(generic, length)) } catch { return .failure(error) }
            }
        }
        return try result.get()
    }
}
