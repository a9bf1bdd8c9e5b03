// How the host mount and the virtiofs backend run in the foreground: logs go where
// --log-file says, and every failure becomes one line on stderr and a documented exit status.
import HostFUSE
import Logging

extension OverlayStackSettings {
    /// Sets up logging and runs `serve`, turning what it throws into a message and an exit status.
    func runInForeground(label: String, metadata: Logger.Metadata = [:], _ serve: (Logger) throws -> Int32) -> Int32 {
        Daemon.redirectStderrToLogFile(logFile)
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        for (key, value) in metadata { logger[metadataKey: key] = value }
        do {
            return try serve(logger)
        } catch let failure as SetupFailure {
            printError(failure.message)
            return failure.status
        } catch let failure as MountSetupError {
            printError(failure.description)
            return failure.errno == .notPermitted || failure.errno == .permissionDenied ? ExitStatus.fuseUnavailable : ExitStatus.runtimeFailure
        } catch {
            printError("\(error)")
            return ExitStatus.runtimeFailure
        }
    }
}
