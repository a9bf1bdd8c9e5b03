// Which transport a repository URL needs, and how to open a connection with it.
//   /path, file:///path      → `git upload-pack` on the local repository (no server needed)
//   ssh://[user@]host[:port]/path, [user@]host:path → `ssh host git-upload-pack 'path'`
//   git://host[:port]/path   → TCP to git daemon (port 9418)
//   http://                  → smart HTTP (git http-backend), protocol v2
//   https://                 → smart HTTP over TLS through libcurl
import Glibc
import Foundation
import ScorpioSys
import SystemPackage

/// A parsed repository location.
public enum RemoteURL: Sendable, Equatable, CustomStringConvertible {
    case local(path: String)
    case ssh(user: String?, host: String, port: Int?, path: String)
    case gitDaemon(host: String, port: Int, path: String)
    case http(url: String)

    /// Parses what users pass to --repo.
    public init(_ text: String) throws(RemoteError) {
        if text.hasPrefix("file://") {
            self = .local(path: String(text.dropFirst("file://".count)))
        } else if text.hasPrefix("git://") {
            let (host, port, path) = try RemoteURL.split(String(text.dropFirst("git://".count)), defaultPort: 9418)
            self = .gitDaemon(host: host, port: port ?? 9418, path: path)
        } else if text.hasPrefix("ssh://") {
            var rest = String(text.dropFirst("ssh://".count))
            var user: String? = nil
            if let at = rest.firstIndex(of: "@") { user = String(rest[..<at]); rest = String(rest[rest.index(after: at)...]) }
            let (host, port, path) = try RemoteURL.split(rest, defaultPort: 22)
            self = .ssh(user: user, host: host, port: port, path: path)
        } else if text.hasPrefix("http://") || text.hasPrefix("https://") {
            self = .http(url: text)
        } else if text.hasPrefix("/") || text.hasPrefix(".") || access(text, F_OK) == 0 {
            self = .local(path: text)
        } else if let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/") {
            // scp-style user@host:path
            var hostPart = String(text[..<colon])
            var user: String? = nil
            if let at = hostPart.firstIndex(of: "@") { user = String(hostPart[..<at]); hostPart = String(hostPart[hostPart.index(after: at)...]) }
            self = .ssh(user: user, host: hostPart, port: nil, path: String(text[text.index(after: colon)...]))
        } else {
            throw .transport("\(text) is neither an existing local repository nor a git URL")
        }
    }

    private static func split(_ rest: String, defaultPort: Int) throws(RemoteError) -> (String, Int?, String) {
        guard let slash = rest.firstIndex(of: "/") else { throw .transport("URL has no repository path: \(rest)") }
        let authority = rest[..<slash]
        let path = String(rest[slash...])
        if let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) {
            return (String(authority[..<colon]), port, path)
        }
        return (String(authority), nil, path)
    }

    /// The key of this remote's cached refs: the URL without credentials, the same whether the
    /// daemon copy got them in its URL or its environment (HTTPCredentials.daemonHandOff).
    public var cacheKey: String {
        if case .http(let url) = self { return HTTPLocation.splitUserInfo(url)?.url ?? url }
        return description
    }

    /// `text` as messages and logs may show it: an http(s) URL's user info replaced by ***.
    public static func redacted(_ text: String) -> String { HTTPLocation.redacted(text) }

    public var description: String {
        switch self {
        case .http(let url): HTTPLocation.redacted(url)
        case .local(let path): path
        case .ssh(let user, let host, let port, let path): "ssh://\(user.map { $0 + "@" } ?? "")\(host)\(port.map { ":\($0)" } ?? "")\(path)"
        case .gitDaemon(let host, let port, let path): "git://\(host):\(port)\(path)"
        }
    }

    /// Opens a connection that is ready for the server's protocol-v2 advertisement.
    func connect(timeout: Double) throws(RemoteError) -> GitConnection {
        switch self {
        case .local(let path):
            // Said once and not retried: upload-pack would print git's complaint on every attempt.
            guard access(path, F_OK) == 0 else { throw .configuration("no such repository") }
            guard access(path + "/HEAD", F_OK) == 0 || access(path + "/.git", F_OK) == 0 else {
                throw .configuration("not a git repository")
            }
            // The options make a plain local repository serve what Dicfuse needs.
            return try spawnUploadPack(["git", "-c", "uploadpack.allowFilter=true", "-c", "uploadpack.allowAnySHA1InWant=true",
                                        "-c", "transfer.advertiseObjectInfo=true", "upload-pack", path], timeout: timeout)
        case .ssh(let user, let host, let port, let path):
            var args = ["-o", "SendEnv=GIT_PROTOCOL", "-o", "BatchMode=yes"]
            if let port { args += ["-p", String(port)] }
            args.append(user.map { "\($0)@\(host)" } ?? host)
            args.append("git-upload-pack '\(path.replacingOccurrences(of: "'", with: "'\\''"))'")
            // Like git: GIT_SSH_COMMAND (a shell command line) replaces plain `ssh`.
            if let command = ProcessInfo.processInfo.environment["GIT_SSH_COMMAND"], !command.isEmpty {
                return try spawnUploadPack(["/bin/sh", "-c", "\(command) \"$@\"", "ssh"] + args, timeout: timeout)
            }
            return try spawnUploadPack(["ssh"] + args, timeout: timeout)
        case .gitDaemon(let host, let port, let path):
            let socket = try TCPConnector.connect(host: host, port: port, timeout: timeout)
            let connection = GitConnection(input: socket, output: socket, child: nil, timeout: timeout)
            var request = Array("git-upload-pack \(path)".utf8) + [0] + Array("host=\(host)".utf8) + [0]
            request += [0] + Array("version=2".utf8) + [0]
            try connection.write(PktLine.encode(request))
            return connection
        case .http(let url):
            throw .protocolViolation("\(url): smart HTTP has no stream connection")
        }
    }

    private func spawnUploadPack(_ arguments: [String], timeout: Double) throws(RemoteError) -> GitConnection {
        do {
            let (childStdin, ourStdin) = try makePipe()
            let (ourStdout, childStdout) = try makePipe()
            let child = try ChildProcess.spawn(arguments, environment: currentEnvironment() + ["GIT_PROTOCOL=version=2"],
                                               descriptors: [(childStdin, 0), (childStdout, 1)])
            childStdin.closeQuietly()
            childStdout.closeQuietly()
            return GitConnection(input: ourStdout, output: ourStdin, child: child, timeout: timeout)
        } catch {
            throw .transport("cannot run \(arguments[0]): \(error)")
        }
    }
}
