// Byte streams to a git server: the stdio of a `git upload-pack` process (local paths,
// file:// and ssh), or a TCP socket (git://). Protocol v2 lets one such stateful connection
// carry many commands, so GitRemote keeps idle ones for the next command; a command that
// fails closes its connection, so a half-read stream is never reused.
import Glibc
import ScorpioSys
import SystemPackage

/// A connection to a server's upload-pack.
// @unchecked: one thread uses a connection at a time; GitRemote's pool hands each one out
// exclusively (taken out of the pool under its lock) and takes it back only when the command
// that used it has finished.
final class GitConnection: ByteSource, @unchecked Sendable {
    private let input: FileDescriptor
    private var output: FileDescriptor?
    private let sameDescriptor: Bool
    private let child: ChildProcess?
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    private var deadline: Double
    private let timeout: Double

    init(input: FileDescriptor, output: FileDescriptor, child: ChildProcess?, timeout: Double) {
        self.input = input
        self.output = output
        self.sameDescriptor = input == output
        self.child = child
        self.timeout = timeout
        self.deadline = monotonicSeconds() + timeout
    }

    /// Restarts the timeout for the next command on this connection.
    func startCommand() {
        deadline = monotonicSeconds() + timeout
    }

    /// True while nothing unread is buffered (a command's response was consumed exactly).
    var atMessageBoundary: Bool { bufferStart == buffer.count }

    deinit { close() }

    private var closed = false

    /// Closes both directions and reaps the child process.
    func close() {
        guard !closed else { return }
        closed = true
        input.closeQuietly()
        if !sameDescriptor { output?.closeQuietly() }
        output = nil
        if let child {
            kill(child.pid, SIGTERM)
            _ = try? child.wait()
        }
    }

    func write(_ bytes: [UInt8]) throws(RemoteError) {
        guard let output else { throw .transport("connection already closed for writing") }
        do {
            try typedErrno { try bytes.withUnsafeBytes { try output.writeAll($0) } }
        } catch {
            throw .transport("write failed: \(error)")
        }
    }

    /// Signals the end of the request (process transports need EOF on stdin).
    func finishWriting() {
        guard let output else { return }
        if sameDescriptor {
            _ = shutdown(output.rawValue, Int32(SHUT_WR))
        } else {
            output.closeQuietly()
            self.output = nil
        }
    }

    /// On a reused TCP connection the server's last small write of a response (the final
    /// flush packet) waits, under Nagle's algorithm, for our ACK of its previous one, and
    /// delayed ACKs would hold that for 40 ms per response. Quick-ACK mode is not sticky in
    /// Linux, so it is set again after every read. (The request side sets TCP_NODELAY.)
    private func acknowledgeAtOnce() {
        var one: Int32 = 1
        _ = setsockopt(input.rawValue, Int32(IPPROTO_TCP), TCP_QUICKACK_OPTION, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Reads until the peer closes (HTTP with Connection: close); the caller checks what arrived.
    func readToEnd() throws(RemoteError) -> [UInt8] {
        while true {
            do {
                try fill()
            } catch {
                if case .timedOut = error { throw error }
                break  // closed by the peer: the response is complete
            }
        }
        let result = Array(buffer[bufferStart...])
        bufferStart = buffer.count
        return result
    }

    /// Reads exactly `count` bytes or throws.
    func readExactly(_ count: Int) throws(RemoteError) -> [UInt8] {
        while buffer.count - bufferStart < count {
            try fill()
        }
        let result = Array(buffer[bufferStart..<(bufferStart + count)])
        bufferStart += count
        if bufferStart > 1 << 20 {
            buffer.removeFirst(bufferStart)
            bufferStart = 0
        }
        return result
    }

    private func fill() throws(RemoteError) {
        var pollDescriptor = pollfd(fd: input.rawValue, events: Int16(POLLIN), revents: 0)
        let remaining = deadline - monotonicSeconds()
        guard remaining > 0 else { throw .timedOut("no answer within the fetch timeout") }
        let ready = poll(&pollDescriptor, 1, Int32(min(remaining, 3600) * 1000))
        if ready == 0 { throw .timedOut("no answer within the fetch timeout") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { Glibc.read(input.rawValue, $0.baseAddress, $0.count) }
        if count < 0 {
            if Glibc.errno == EINTR { return }
            throw .transport("read failed: \(Errno(rawValue: Glibc.errno))")
        }
        if count == 0 { throw .transport("the server closed the connection") }
        // The timeout is for silence, not for the whole response: a large pack that keeps
        // arriving over a slow link is not cut off (as curl's low-speed limit for HTTP).
        deadline = monotonicSeconds() + timeout
        buffer.append(contentsOf: chunk[0..<count])
        if sameDescriptor { acknowledgeAtOnce() }
    }
}

/// TCP_QUICKACK and TCP_NODELAY from <netinet/tcp.h>, which Glibc's module does not export.
let TCP_QUICKACK_OPTION: Int32 = 12
let TCP_NODELAY_OPTION: Int32 = 1

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
