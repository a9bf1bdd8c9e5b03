// The body of a plain http:// response, read from the connection while it arrives: as sent
// (Content-Length, or until the server closes: we send Connection: close), or decoded from
// chunked transfer encoding chunk by chunk. The status line and headers are read first, so a
// status other than 200 is an error before any of the body is looked at.
import Foundation

/// A response body that is read while it arrives, and says at the end why it was not good.
protocol ResponseBody: ByteSource {
    /// Stops reading and returns why the response was not a good one, if it was not. After a
    /// complete read (`complete`), what is left of the body is read and dropped first.
    func finish(complete: Bool) -> RemoteError?
}

/// An http:// response body.
final class HTTPBodyStream: ResponseBody {
    private let connection: GitConnection
    private let chunked: Bool
    /// Bytes left in the current chunk; the last chunk (size 0) was read when `ended`.
    private var chunkLeft = 0
    private var ended = false

    /// Reads the status line and headers from `connection` (the request was sent).
    /// - Throws: `.protocolViolation` for a malformed head, the status's error for non-200.
    init(connection: GitConnection, location: HTTPLocation, method: String, path: String) throws(RemoteError) {
        self.connection = connection
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard head.count < 64 << 10 else { throw .protocolViolation("HTTP response head too long") }
            head += try connection.readExactly(1)
        }
        var lines = String(decoding: head.dropLast(4), as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        guard statusLine.hasPrefix("HTTP/"), let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw .protocolViolation("malformed HTTP response")
        }
        try SmartHTTP.requireSuccess(status: status, location: location, method: method, path: path)
        chunked = lines.contains { line in
            guard let colon = line.firstIndex(of: ":") else { return false }
            return line[..<colon].lowercased() == "transfer-encoding" && line[line.index(after: colon)...].lowercased().contains("chunked")
        }
    }

    deinit { connection.close() }

    func readExactly(_ count: Int) throws(RemoteError) -> [UInt8] {
        guard chunked else { return try connection.readExactly(count) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            if chunkLeft == 0 {
                try startChunk()
                if ended { throw .protocolViolation("the response ended early") }
            }
            let take = min(chunkLeft, count - bytes.count)
            bytes += try connection.readExactly(take)
            chunkLeft -= take
            if chunkLeft == 0 { try expectLineEnd() }
        }
        return bytes
    }

    /// The whole (rest of the) body.
    func readToEnd() throws(RemoteError) -> [UInt8] {
        guard chunked else { return try connection.readToEnd() }
        var bytes: [UInt8] = []
        while true {
            if chunkLeft == 0 {
                try startChunk()
                if ended { return bytes }
            }
            bytes += try connection.readExactly(chunkLeft)
            chunkLeft = 0
            try expectLineEnd()
        }
    }

    func finish(complete: Bool) -> RemoteError? {
        connection.close()
        return nil  // the status was checked up front; the connection is not reused
    }

    func close() { connection.close() }

    /// Reads a chunk-size line ("1f4;ext\r\n").
    private func startChunk() throws(RemoteError) {
        var line: [UInt8] = []
        while !line.suffix(2).elementsEqual([13, 10]) {
            guard line.count < 1024 else { throw .protocolViolation("bad chunked encoding") }
            line += try connection.readExactly(1)
        }
        let text = String(decoding: line.dropLast(2), as: UTF8.self).split(separator: ";").first ?? ""
        guard let size = Int(text.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
            throw .protocolViolation("bad chunk size")
        }
        if size == 0 { ended = true } else { chunkLeft = size }
    }

    private func expectLineEnd() throws(RemoteError) {
        guard try connection.readExactly(2) == [13, 10] else { throw .protocolViolation("bad chunked encoding") }
    }
}
