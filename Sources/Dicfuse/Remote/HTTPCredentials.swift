// Credentials for http(s) remotes. In order: a bearer token in SCORPIO_HTTP_TOKEN; the URL's
// user:password; SCORPIO_HTTP_USER and SCORPIO_HTTP_PASSWORD; the credentials file, whose
// entry with the longest URL prefix matching the remote wins. The file is TOML:
//
//     [[remote]]
//     url = "https://git.example.com/"     # a prefix of the remote's URL
//     token = "..."                        # bearer; or user = "..." and password = "..."
//
// It is $SCORPIO_CREDENTIALS (--credentials sets it), else /etc/scorpio/credentials.toml as
// root and $XDG_CONFIG_HOME/scorpio/credentials.toml (~/.config) otherwise, and it must not be
// readable by group or others, as ssh insists for keys. Credentials never reach a message or a
// log line, nor the daemon copy's command line (`daemonHandOff` moves them to its environment).
import Foundation
import Glibc
import TOMLKit

public enum HTTPCredentials {
    /// Names the credentials file; set by --credentials, inherited by the daemon copy.
    public static let fileVariable = "SCORPIO_CREDENTIALS"

    /// The credentials file to read and whether it was named explicitly (then it must exist).
    static func filePath(_ environment: [String: String]) -> (path: String, explicit: Bool) {
        if let path = environment[fileVariable], !path.isEmpty { return (path, true) }
        if geteuid() == 0 { return ("/etc/scorpio/credentials.toml", false) }
        // No HOME: no default file (a path under /tmp could be anyone's).
        guard let config = environment["XDG_CONFIG_HOME"].flatMap({ $0.isEmpty ? nil : $0 })
                ?? environment["HOME"].flatMap({ $0.isEmpty ? nil : $0 + "/.config" }) else { return ("", false) }
        return (config + "/scorpio/credentials.toml", false)
    }

    /// The Authorization header value for `url` (given without user info), or nil.
    static func authorization(for url: String, userInfo: String?, environment: [String: String]) throws(RemoteError) -> String? {
        if let token = environment["SCORPIO_HTTP_TOKEN"], !token.isEmpty { return "Bearer \(token)" }
        if let userInfo {
            let decoded = userInfo.removingPercentEncoding ?? userInfo
            return basic(decoded.contains(":") ? decoded : decoded + ":")  // as the daemon copy sends it
        }
        if let user = environment["SCORPIO_HTTP_USER"] { return basic("\(user):\(environment["SCORPIO_HTTP_PASSWORD"] ?? "")") }
        let (path, explicit) = filePath(environment)
        guard !path.isEmpty else { return nil }
        return try fromFile(path, explicit: explicit, url: url)
    }

    private static func basic(_ userAndPassword: String) -> String {
        "Basic \(Data(userAndPassword.utf8).base64EncodedString())"
    }

    private struct File: Decodable {
        var remote: [Entry]?
    }

    private struct Entry: Decodable {
        var url: String
        var token: String?
        var user: String?
        var password: String?
    }

    /// The matching entry of the credentials file at `path`.
    static func fromFile(_ path: String, explicit: Bool, url: String) throws(RemoteError) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if !explicit && errno == ENOENT { return nil }
            throw .configuration("credentials file \(path): \(String(cString: strerror(errno)))")
        }
        guard st.st_uid == geteuid() else {
            throw .configuration("credentials file \(path) belongs to another user (uid \(st.st_uid)); it must be this user's own")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw .configuration("credentials file \(path) is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))): chmod 600 \(path)")
        }
        let file: File
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            file = try TOMLDecoder().decode(File.self, from: text)
        } catch {
            // TOMLKit's messages quote the line, which may hold a secret: name the place only.
            throw .configuration("credentials file \(path) is not valid: \(errorPlace(error)) (expected [[remote]] tables with url and token, or user and password)")
        }
        let matching = (file.remote ?? []).filter { covers($0.url, url) }.max { $0.url.count < $1.url.count }
        guard let entry = matching else { return nil }
        if let token = entry.token { return "Bearer \(token)" }
        if let user = entry.user { return basic("\(user):\(entry.password ?? "")") }
        throw .configuration("credentials file \(path): the entry for \(entry.url) has neither token nor user")
    }

    /// Whether an entry's `url` covers the remote `url`: a prefix of it that ends at a boundary
    /// ("https://git.example.com" covers "https://git.example.com/x.git", not
    /// "https://git.example.com.evil.net/..." nor "https://git.example.com:8443/...").
    static func covers(_ prefix: String, _ url: String) -> Bool {
        guard url.hasPrefix(prefix) else { return false }
        if prefix.hasSuffix("/") || url.count == prefix.count { return true }
        let next = url[url.index(url.startIndex, offsetBy: prefix.count)]
        return next == "/" || next == "?"  // not ":": another port is another server
    }

    /// Where a parse or decode error is, without the text around it.
    private static func errorPlace(_ error: any Error) -> String {
        if let parse = error as? TOMLParseError { return "line \(parse.source.begin.line)" }
        if case DecodingError.keyNotFound(let key, _) = error { return "missing key \(key.stringValue)" }
        if case DecodingError.typeMismatch(_, let context) = error {
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        }
        return "cannot be decoded"
    }

    /// The environment variables holding credentials (and the CA file), by prefix: child
    /// processes that talk to no git server (fusermount3) do not get them.
    public static let environmentPrefixes = ["SCORPIO_HTTP_"]

    /// For starting the daemon copy: the URL without user info, and the user info moved to
    /// the environment variables that stand for it, so no other user can read it in
    /// /proc/PID/cmdline (a process's environment is readable only by its owner).
    public static func daemonHandOff(_ url: String) -> (url: String, environment: [String]) {
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), let split = HTTPLocation.splitUserInfo(url),
              let userInfo = split.userInfo else { return (url, []) }
        let decoded = userInfo.removingPercentEncoding ?? userInfo
        let colon = decoded.firstIndex(of: ":")
        let user = colon.map { String(decoded[..<$0]) } ?? decoded
        let password = colon.map { String(decoded[decoded.index(after: $0)...]) } ?? ""
        return (split.url, ["SCORPIO_HTTP_USER=\(user)", "SCORPIO_HTTP_PASSWORD=\(password)"])
    }
}
