// The fetch timeout of a stream connection (--fetch-timeout) counts silence, not the whole
// response: a server that keeps sending, however slowly, is read to the end, and one that
// stops sending is given up on after the timeout.
import Foundation
import Glibc
import SystemPackage
import Testing
@testable import Dicfuse

@Suite struct ConnectionTimeoutTests {
    /// A connection reading from a pipe, and the pipe's write end.
    func pipeConnection(timeout: Double) throws -> (GitConnection, Int32) {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let sink = open("/dev/null", O_WRONLY)
        try #require(sink >= 0)
        let connection = GitConnection(input: FileDescriptor(rawValue: fds[0]), output: FileDescriptor(rawValue: sink),
                                       child: nil, timeout: timeout)
        return (connection, fds[1])
    }

    @Test func aSlowSteadyServerIsReadToTheEnd() throws {
        let (connection, writer) = try pipeConnection(timeout: 0.5)
        defer { connection.close() }
        // Eight bytes, one every 0.2 s: 1.6 s in all, three times the timeout.
        let sender = Thread {
            for byte in 0..<8 {
                usleep(200_000)
                var value = UInt8(byte)
                _ = write(writer, &value, 1)
            }
            close(writer)
        }
        sender.start()
        let started = Date()
        let bytes = try connection.readExactly(8)
        #expect(bytes == Array(0..<8))
        #expect(Date().timeIntervalSince(started) > 1.0, "the bytes came over more than twice the timeout")
    }

    @Test func aSilentServerTimesOut() throws {
        let (connection, writer) = try pipeConnection(timeout: 0.3)
        defer { connection.close(); close(writer) }
        var first: UInt8 = 7
        _ = write(writer, &first, 1)
        #expect(try connection.readExactly(1) == [7])
        let started = Date()
        do {
            _ = try connection.readExactly(1)
            Issue.record("read a byte nobody sent")
        } catch {
            guard case .timedOut = error else {
                Issue.record("expected a timeout, got \(error)")
                return
            }
        }
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.25 && waited < 5, "gave up after \(waited) s")
    }
}
