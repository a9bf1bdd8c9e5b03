// Exit codes of scorpio-provider, documented in the README and in --help.
import Foundation

enum ExitStatus {
    static let success: Int32 = 0
    /// The mount started but failed, or an unmount failed.
    static let runtimeFailure: Int32 = 1
    /// A path given on the command line is unusable (missing, not empty, already mounted, nested).
    static let invalidSetup: Int32 = 2
    /// /dev/fuse is missing or mounting is not permitted.
    static let fuseUnavailable: Int32 = 3
}

/// Prints one line to stderr, as every user-facing error is.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("scorpio-provider: \(message)\n".utf8))
}

enum ProcessorCount {
    static var online: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}
