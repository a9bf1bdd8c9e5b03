// Git's smart HTTP transport (gitprotocol-http) with protocol v2: GET info/refs for the
// capability advertisement, one POST to git-upload-pack per command, `Git-Protocol: version=2`
// on both. http:// uses a small HTTP/1.1 client over TCPConnector (Connection: close,
// Content-Length or chunked bodies, HTTPBodyStream); https:// goes through libcurl
// (HTTPSRequest). A fetch's response is read while it arrives (commandStream), so its pack is
// parsed and stored as it comes, as over the other transports. Credentials (HTTPCredentials)
// come from the environment, the URL's user:password or the credentials file, and are never
// logged: every URL shown to users is redacted.
import Foundation

/// Where a smart-HTTP repository lives.
struct HTTPLocation {
    var host: String
    var port: Int
    /// The repository path without a trailing slash, e.g. "/git/repo.git".
    var path: String
    var authorization: String?
    /// https:// (through libcurl, see HTTPSRequest) rather than http://.
    var secure: Bool

    init(_ url: String) throws(RemoteError) {
        secure = url.hasPrefix("https://")
        guard secure || url.hasPrefix("http://"), let (plainURL, userInfo) = Self.splitUserInfo(url) else {
            throw .unsupported("\(HTTPLocation.redacted(url)): not an http(s) URL")
        }
        let rest = String(plainURL.dropFirst(secure ? "https://".count : "http://".count))
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        if let colon = authority.lastIndex(of: ":"), let number = Int(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon]); port = number
        } else {
            host = String(authority); port = secure ? 443 : 80
        }
        authorization = try HTTPCredentials.authorization(for: plainURL, userInfo: userInfo,
                                                          environment: ProcessInfo.processInfo.environment)
    }

    /// "scheme://user:password@host/path" → ("scheme://host/path", "user:password"); the user
    /// info is nil when the URL has none, and the result nil when `url` has no "://".
    static func splitUserInfo(_ url: String) -> (url: String, userInfo: String?)? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<slash].lastIndex(of: "@") else { return (url, nil) }
        return (String(url[..<scheme.upperBound]) + rest[rest.index(after: at)...], String(rest[..<at]))
    }

    /// The URL with any user:password replaced, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard let (plain, userInfo) = splitUserInfo(url), userInfo != nil, let scheme = plain.range(of: "://") else { return url }
        return String(plain[..<scheme.upperBound]) + "***@" + plain[scheme.upperBound...]
    }
}

enum SmartHTTP {
    /// The v2 capability lines from GET info/refs.
    static func advertisement(_ location: HTTPLocation, timeout: Double) throws(RemoteError) -> [String] {
        let body = try request(location, method: "GET", path: "/info/refs?service=git-upload-pack", body: nil, timeout: timeout)
        var reader = PacketReader(connection: MemorySource(body))
        var lines = try reader.lines()
        // A v0-style "# service=git-upload-pack" preamble ends with its own flush.
        if lines.first?.hasPrefix("# service=") == true { lines = try reader.lines() }
        return lines
    }

    /// POSTs one command; returns the response body (pkt-lines).
    static func command(_ location: HTTPLocation, body: [UInt8], timeout: Double) throws(RemoteError) -> [UInt8] {
        try request(location, method: "POST", path: "/git-upload-pack", body: body, timeout: timeout)
    }

    /// POSTs one command whose response is read while it arrives (a fetch's pack).
    static func commandStream(_ location: HTTPLocation, body: [UInt8], timeout: Double) throws(RemoteError) -> any ResponseBody {
        if location.secure {
            return try HTTPSRequest.stream(location, path: "/git-upload-pack", body: body, timeout: timeout)
        }
        return try plainRequest(location, method: "POST", path: "/git-upload-pack", body: body, timeout: timeout)
    }

    private static func request(_ location: HTTPLocation, method: String, path: String, body: [UInt8]?,
                                timeout: Double) throws(RemoteError) -> [UInt8] {
        if location.secure {
            let (status, payload) = try HTTPSRequest.perform(location, path: path, body: body, timeout: timeout)
            try requireSuccess(status: status, location: location, method: method, path: path)
            return payload
        }
        let response = try plainRequest(location, method: method, path: path, body: body, timeout: timeout)
        defer { response.close() }
        return try response.readToEnd()
    }

    /// Sends an http:// request and reads the response's head; the body is left to read.
    private static func plainRequest(_ location: HTTPLocation, method: String, path: String, body: [UInt8]?,
                                     timeout: Double) throws(RemoteError) -> HTTPBodyStream {
        let socket = try TCPConnector.connect(host: location.host, port: location.port, timeout: timeout)
        let connection = GitConnection(input: socket, output: socket, child: nil, timeout: timeout)
        var head = "\(method) \(location.path)\(path) HTTP/1.1\r\nHost: \(location.host):\(location.port)\r\n"
        head += "User-Agent: git/2.39 scorpio-provider/1\r\nGit-Protocol: version=2\r\nConnection: close\r\n"
        if let authorization = location.authorization { head += "Authorization: \(authorization)\r\n" }
        if let body {
            head += "Content-Type: application/x-git-upload-pack-request\r\n"
            head += "Accept: application/x-git-upload-pack-result\r\nContent-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        do {
            try connection.write(Array(head.utf8) + (body ?? []))
            return try HTTPBodyStream(connection: connection, location: location, method: method, path: path)
        } catch {
            connection.close()
            throw error
        }
    }

    /// Nothing for a 200 answer; a one-line error naming the cause for anything else.
    static func requireSuccess(status: Int, location: HTTPLocation, method: String, path: String) throws(RemoteError) {
        switch status {
        case 200: return
        case 401, 403: throw .server("HTTP \(status): authentication required or refused (set SCORPIO_HTTP_TOKEN, or SCORPIO_HTTP_USER and SCORPIO_HTTP_PASSWORD, or an entry in the credentials file)")
        case 429, 502, 503, 504: throw .transport("HTTP \(status) for \(method) \(location.path)\(path) (the server asks to come back later)")
        case 404: throw .server("HTTP 404: no repository at \(location.path) (is git http-backend serving it with GIT_HTTP_EXPORT_ALL?)")
        default: throw .server("HTTP \(status) for \(method) \(location.path)\(path)")
        }
    }
}
