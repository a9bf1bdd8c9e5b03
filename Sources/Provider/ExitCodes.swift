// Exit codes of scorpio-provider, documented in the README and in --help.
import Foundation
import ScorpioSys

enum ExitStatus {
    static let success: Int32 = 0
    /// The mount started but failed, or an unmount failed.
    static let runtimeFailure: Int32 = 1
    /// A path given on the command line is unusable (missing, not empty, already mounted, nested).
    static let invalidSetup: Int32 = 2
    /// /dev/fuse is missing or mounting is not permitted.
    static let fuseUnavailable: Int32 = 3
}

/// Prints one line to the user's stderr (UserOutput), as every user-facing error is.
func printError(_ message: String) {
    UserOutput.write("scorpio-provider: \(message)\n")
}

enum ProcessorCount {
    static var online: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}
