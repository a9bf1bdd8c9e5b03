// Everything a host mount needs, gathered from the command line (and later the control API).
import Logging

struct HostMountSettings: Sendable {
    var mountPoint: String
    var upper: String
    var lowers: [String]
    var threads: Int
    var passthrough: Bool
    var writebackCache: Bool
    var attributeTimeout: Double
    var entryTimeout: Double
    var logLevel: Logger.Level
    var logFile: String?

    /// The same settings as command-line arguments (used to start the daemon copy).
    var arguments: [String] {
        var args = ["--mount", mountPoint, "--upper", upper, "--lower", lowers.joined(separator: ":"),
                    "--threads", String(threads), "--attr-timeout", String(attributeTimeout),
                    "--entry-timeout", String(entryTimeout), "--log-level", logLevel.rawValue]
        if !passthrough { args.append("--no-passthrough") }
        if writebackCache { args.append("--writeback-cache") }
        if let logFile { args += ["--log-file", logFile] }
        return args
    }
}
