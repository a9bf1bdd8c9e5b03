// `scorpio-provider unmount MNT`: a normal unmount, falling back to a lazy one when the mount
// is busy or its daemon is gone (a stale mount answers ENOTCONN), so a crashed daemon's
// mount point can always be cleaned.
import Foundation
import Glibc
import HostFUSE
import SystemPackage

enum Unmount {
    static func run(_ mountPoint: String) -> Int32 {
        let path = mountPoint.hasSuffix("/") && mountPoint.count > 1 ? String(mountPoint.dropLast()) : mountPoint
        do {
            try FUSEMount.unmount(path, lazy: false)
            return ExitStatus.success
        } catch let error where error.errno == .invalidArgument {
            printError("\(path) is not a mount point")
            return ExitStatus.invalidSetup
        } catch let error where error.errno == .noSuchFileOrDirectory {
            printError("\(path) does not exist")
            return ExitStatus.invalidSetup
        } catch {
            // Busy, or the daemon died: detach it.
        }
        do {
            try FUSEMount.unmount(path, lazy: true)
            return ExitStatus.success
        } catch {
            printError(error.description)
            return ExitStatus.runtimeFailure
        }
    }
}
