// A fetch over http:// reads its response while it arrives (HTTPBodyStream): a chunked pack
// response is decoded chunk by chunk into the pack, and a status other than 200 on the fetch's
// POST is the one-line HTTP error, not a protocol error. The server (PackHTTPServer) is a few
// lines of Python started by the test on loopback.
import Foundation
import Glibc
import Logging
import Testing
@testable import Dicfuse

@Suite struct HTTPStreamTests {
    static func remote(port: Int) throws -> GitRemote {
        GitRemote(url: try RemoteURL("http://127.0.0.1:\(port)/repo.git"), timeout: 10, logger: Logger(label: "test"))
    }

    @Test func aChunkedPackIsReadWhileItArrives() throws {
        let blobs = (0..<40).map { n in (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ n) } }
        let pack = PackBuilder.pack(blobs.map { PackBuilder.plainEntry(.blob, $0) })
        let (server, port) = try PackHTTPServer.start(pack: pack, refuseFetch: false)
        defer { PackHTTPServer.stop(server) }
        var received: [UInt8] = []
        var chunks = 0
        try Self.remote(port: port).fetchBlobs([ObjectHasher.id(type: .blob, data: blobs[0])], restart: { received = [] }) { chunk in
            received += chunk
            chunks += 1
        }
        #expect(received == pack)
        #expect(chunks > 1, "the pack came in several sideband packets, each handed on as it was decoded")
    }

    @Test func aRefusedFetchIsTheHTTPError() throws {
        let (server, port) = try PackHTTPServer.start(pack: [], refuseFetch: true)
        defer { PackHTTPServer.stop(server) }
        do {
            try Self.remote(port: port).fetchBlobs([ObjectHasher.id(type: .blob, data: [])], restart: {}) { _ in }
            Issue.record("a refused fetch succeeded")
        } catch {
            #expect("\(error)".contains("HTTP 403"), "got \(error)")
        }
    }
}
