// Which failures of a git server are tried again: refused connections and "come back later"
// answers are (twice, RemoteRetry); timeouts are not, since they already waited
// --fetch-timeout (an unreachable server then fails a read once, after that timeout).
import Foundation
import Glibc
import Logging
import Testing
@testable import Dicfuse

@Suite struct RemoteRetryTests {
    let logger = Logger(label: "test")

    @Test func aRefusedConnectionIsTriedThreeTimesInAll() {
        var calls = 0
        #expect(throws: RemoteError.transport("refused")) {
            try RemoteRetry.run(logger: logger) { () throws(RemoteError) -> Int in
                calls += 1
                throw .transport("refused")
            }
        }
        #expect(calls == 3)
    }

    @Test func aServerThatComesBackIsReached() throws {
        var calls = 0
        let value = try RemoteRetry.run(logger: logger) { () throws(RemoteError) -> Int in
            calls += 1
            if calls < 2 { throw .transport("refused") }
            return 42
        }
        #expect(value == 42 && calls == 2)
    }

    @Test(arguments: [RemoteError.timedOut("silent"), .server("ERR no"), .pack("bad"), .storage("full"), .configuration("certificate")])
    func otherFailuresAreFinalAtOnce(_ failure: RemoteError) {
        var calls = 0
        #expect(throws: failure) {
            try RemoteRetry.run(logger: logger) { () throws(RemoteError) -> Int in
                calls += 1
                throw failure
            }
        }
        #expect(calls == 1)
    }

    @Test func aBusyHTTPServerIsRetriedAndAMissingRepositoryIsNot() throws {
        let location = try HTTPLocation("http://127.0.0.1:1/repo.git")
        func failure(_ status: Int) -> RemoteError? {
            do { try SmartHTTP.requireSuccess(status: status, location: location, method: "GET", path: "/") } catch { return error }
            return nil
        }
        for status in [429, 502, 503, 504] {
            guard case .transport = failure(status) else { Issue.record("HTTP \(status) gave \(String(describing: failure(status)))"); continue }
        }
        guard case .server = failure(404) else { Issue.record("HTTP 404 gave \(String(describing: failure(404)))"); return }
        #expect(failure(200) == nil)
    }

    @Test func libcurlFailuresAreSortedByWhetherATryAgainCanHelp() throws {
        let location = try HTTPLocation("https://127.0.0.1:1/repo.git")
        func error(_ code: Int32) -> RemoteError { HTTPSRequest.Outcome(code: code, status: 0, message: "m").error(location) }
        guard case .timedOut = error(28) else { Issue.record("timeout: \(error(28))"); return }
        guard case .transport = error(7) else { Issue.record("refused: \(error(7))"); return }
        guard case .configuration = error(60) else { Issue.record("certificate: \(error(60))"); return }
    }

    /// A listener whose accept queue is full drops new connections' SYNs, as a firewall that
    /// drops packets would: the connect must give up after the timeout, as a timeout.
    @Test func anUnansweredConnectTimesOutOnceAsATimeout() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(bind(listener, raw, length) == 0 && listen(listener, 0) == 0 && getsockname(listener, raw, &length) == 0)
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let filler = try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: 2)  // fills the queue of one
        defer { try? filler.close() }
        let started = Date()
        do {
            _ = try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: 0.5)
            Issue.record("connected to a full accept queue")
        } catch {
            guard case .timedOut = error else { Issue.record("expected a timeout, got \(error)"); return }
        }
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.4 && waited < 3, "gave up after \(waited) s")
    }
}

/// Which remotes a credentials-file entry covers: its URL must end where a path segment does.
@Suite struct CredentialsPrefixTests {
    @Test func anEntryCoversItsServerAndPathsBelowOnly() {
        #expect(HTTPCredentials.covers("https://git.example.com", "https://git.example.com/mono.git"))
        #expect(HTTPCredentials.covers("https://git.example.com/", "https://git.example.com/mono.git"))
        #expect(HTTPCredentials.covers("https://git.example.com/mono.git", "https://git.example.com/mono.git"))
        #expect(!HTTPCredentials.covers("https://git.example.com", "https://git.example.com.evil.net/mono.git"))
        #expect(!HTTPCredentials.covers("https://git.example.com", "https://git.example.com:8443/mono.git"))
        #expect(!HTTPCredentials.covers("https://git.example.com/mono", "https://git.example.com/mono-other.git"))
        #expect(!HTTPCredentials.covers("http://git.example.com/", "https://git.example.com/mono.git"))
    }
}
