// git's pkt-line framing (gitprotocol-common): four hex digits of length (including themselves)
// then the payload; 0000 flush, 0001 delimiter, 0002 response end.

/// One decoded packet.
public enum Packet: Equatable, Sendable {
    case data([UInt8])
    case flush
    case delimiter
    case responseEnd
}

/// Errors of the wire protocol with a git server; messages are shown to users verbatim.
public enum RemoteError: Error, Equatable, Sendable, CustomStringConvertible {
    case transport(String)
    case protocolViolation(String)
    /// An ERR packet or sideband error from the server, verbatim.
    case server(String)
    /// The server lacks something we need, named in the message.
    case unsupported(String)
    case pack(String)
    case timedOut(String)
    /// What the server sent could not be stored (a full disk): not the server's fault, and
    /// not retried.
    case storage(String)
    /// Our side cannot go on: the credentials file, a certificate we cannot trust, a URL
    /// libcurl cannot use. Not retried.
    case configuration(String)

    public var description: String {
        switch self {
        case .transport(let m): "cannot reach the git server: \(m)"
        case .protocolViolation(let m): "git protocol error: \(m)"
        case .server(let m): "git server error: \(m)"
        case .unsupported(let m): m
        case .pack(let m): "bad pack from the git server: \(m)"
        case .timedOut(let m): "git server timed out: \(m)"
        case .storage(let m): m
        case .configuration(let m): m
        }
    }
}

enum PktLine {
    static let maxPacket = 65520

    /// Encodes a data packet.
    static func encode(_ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 4
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [digits[(length >> 12) & 0xf], digits[(length >> 8) & 0xf], digits[(length >> 4) & 0xf], digits[length & 0xf]]
        out.append(contentsOf: payload)
        return out
    }

    /// Encodes a text line with its trailing newline.
    static func line(_ text: String) -> [UInt8] { encode(Array((text + "\n").utf8)) }

    static let flush: [UInt8] = Array("0000".utf8)
    static let delimiter: [UInt8] = Array("0001".utf8)

    /// Parses the 4-digit length prefix.
    static func length(_ prefix: [UInt8]) throws(RemoteError) -> Int {
        var value = 0
        for c in prefix {
            let digit: Int
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(c - UInt8(ascii: "A") + 10)
            default: throw .protocolViolation("bad pkt-line length \(String(decoding: prefix, as: UTF8.self).debugDescription)")
            }
            value = value << 4 | digit
        }
        return value
    }
}

/// Somewhere packets are read from: a live connection or a buffered HTTP response body.
protocol ByteSource: AnyObject {
    func readExactly(_ count: Int) throws(RemoteError) -> [UInt8]
    func close()
}

/// A response that was read in full (smart HTTP).
final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func readExactly(_ count: Int) throws(RemoteError) -> [UInt8] {
        guard bytes.count - position >= count else { throw .protocolViolation("the response ended early") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    func close() {}
}

/// Reads packets from a byte stream.
struct PacketReader {
    let connection: any ByteSource

    mutating func next() throws(RemoteError) -> Packet {
        let prefix = try connection.readExactly(4)
        let length = try PktLine.length(prefix)
        switch length {
        case 0: return .flush
        case 1: return .delimiter
        case 2: return .responseEnd
        case 3: throw .protocolViolation("pkt-line length 3")
        default:
            guard length <= PktLine.maxPacket else { throw .protocolViolation("pkt-line of \(length) bytes") }
            let payload = try connection.readExactly(length - 4)
            if payload.starts(with: Array("ERR ".utf8)) {
                throw .server(String(decoding: payload.dropFirst(4), as: UTF8.self).trimmingNewline)
            }
            return .data(payload)
        }
    }

    /// Text lines until a flush (or delimiter when `untilDelimiter`).
    mutating func lines() throws(RemoteError) -> [String] {
        var result: [String] = []
        while true {
            switch try next() {
            case .data(let bytes): result.append(String(decoding: bytes, as: UTF8.self).trimmingNewline)
            case .flush, .responseEnd: return result
            case .delimiter: continue
            }
        }
    }
}

extension String {
    var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
