// Everything a host mount needs, gathered from the command line (and later the control API).
import Dicfuse
import Foundation
import FUSEWire
import Logging

/// A --repo layer.
struct RepositorySettings: Sendable {
    var url: String
    var ref: String?
    var cache: String
    var prefetch: PrefetchPolicy
    var fetchTimeout: Double
    var lazyTrees: Bool

    /// The URL for messages and logs, without credentials.
    var displayURL: String { RemoteURL.redacted(url) }
}

/// What the host mount and the virtiofs backend share: the layers, the kernel's cache
/// timeouts, xattr support, and logging.
struct OverlayStackSettings: Sendable {
    var upper: String
    var lowers: [String]
    var repository: RepositorySettings?
    var attributeTimeout: Double
    var entryTimeout: Double
    var extendedAttributes: Bool
    /// Answer OPEN with ENOSYS (InitConfiguration.noOpen).
    var noOpen: Bool
    var logLevel: Logger.Level
    var logFile: String?

    /// How INIT is answered for this stack; each transport then sets what is its own.
    var initConfiguration: InitConfiguration {
        var configuration = InitConfiguration()
        configuration.noOpen = noOpen
        configuration.posixACL = extendedAttributes  // ACLs are xattrs
        configuration.readdirplusEveryCall = repository != nil  // a Dicfuse lookup costs no host call
        configuration.timeouts = CacheTimeouts(entrySeconds: entryTimeout, attributeSeconds: attributeTimeout)
        return configuration
    }
}

struct HostMountSettings: Sendable {
    var mountPoint: String
    var stack: OverlayStackSettings
    var threads: Int
    var passthrough: Bool
    var writebackCache: Bool
    /// Serve requests through FUSE over io_uring queues (InitConfiguration.ioUring).
    var ioUring: Bool

    /// The same settings as command-line arguments (used to start the daemon copy).
    var arguments: [String] {
        let upper = stack.upper, lowers = stack.lowers, repository = stack.repository
        var args = ["--mount", mountPoint, "--upper", upper, "--lower", lowers.joined(separator: ":"),
                    "--threads", String(threads), "--attr-timeout", String(stack.attributeTimeout),
                    "--entry-timeout", String(stack.entryTimeout), "--log-level", stack.logLevel.rawValue]
        if !passthrough { args.append("--no-passthrough") }
        if writebackCache { args.append("--writeback-cache") }
        if ioUring { args.append("--io-uring") }
        if !stack.extendedAttributes { args.append("--no-xattr") }
        if stack.noOpen { args.append("--no-open") }
        if let logFile = stack.logFile { args += ["--log-file", logFile] }
        if let repository {
            args += ["--repo", HTTPCredentials.daemonHandOff(repository.url).url, "--cache", repository.cache, "--prefetch", repository.prefetch.rawValue,
                     "--fetch-timeout", String(repository.fetchTimeout), "--trees", repository.lazyTrees ? "lazy" : "eager"]
            if let ref = repository.ref { args += ["--ref", ref] }
        }
        if lowers.isEmpty, let index = args.firstIndex(of: "--lower") { args.removeSubrange(index...(index + 1)) }
        return args
    }

    /// Environment entries the daemon copy needs besides ours: a --repo URL's credentials,
    /// which `arguments` leaves out (see HTTPCredentials.daemonHandOff).
    var daemonEnvironment: [String] {
        stack.repository.map { HTTPCredentials.daemonHandOff($0.url).environment } ?? []
    }

    /// /var/cache/scorpio as root, ~/.cache/scorpio otherwise.
    static var defaultCacheDirectory: String {
        if geteuid() == 0 { return "/var/cache/scorpio" }
        return (ProcessInfo.processInfo.environment["HOME"] ?? "/tmp") + "/.cache/scorpio"
    }

    /// A new upper directory under the cache, for --repo mounts given no --upper.
    static func freshUpper(in cache: String) -> String {
        "\(cache)/uppers/\(Int(Date().timeIntervalSince1970))-\(getpid())"
    }
}
