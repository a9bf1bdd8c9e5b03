// A TCP connection with a connect timeout, for git:// (git daemon).
import Glibc
import ScorpioSys
import SystemPackage

enum TCPConnector {
    static func connect(host: String, port: Int, timeout: Double) throws(RemoteError) -> FileDescriptor {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw .transport("\(host): cannot resolve host (\(String(cString: gai_strerror(status))))")
        }
        defer { freeaddrinfo(result) }
        var lastError = "no address"
        var timedOut = false
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            current = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            if fd < 0 { continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var connected = Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0
            if !connected && Glibc.errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&pfd, 1, Int32(timeout * 1000)) == 1 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    connected = error == 0
                    if !connected { lastError = String(cString: strerror(error)); timedOut = false }
                } else {
                    lastError = "no answer to connect within \(timeout) s"
                    timedOut = true
                }
            } else if !connected {
                lastError = String(cString: strerror(Glibc.errno))
                timedOut = false  // the last address decides: a refusal there is worth a retry
            }
            if connected {
                _ = fcntl(fd, F_SETFL, flags)
                var one: Int32 = 1  // requests are written whole; never hold them back
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY_OPTION, &one, socklen_t(MemoryLayout<Int32>.size))
                return FileDescriptor(rawValue: fd)
            }
            close(fd)
        }
        // A timeout waited long enough already: retrying it would triple the wait for EIO.
        if timedOut { throw .timedOut("\(host):\(port): \(lastError)") }
        throw .transport("\(host):\(port): \(lastError)")
    }
}
