// Opening the layers of an overlay stack, shared by the host mount and the virtiofs backend:
// check the paths, create UPPER if missing, open the --repo layer and the lower directories.
import Dicfuse
import Logging
import Overlay

struct OverlayLayers {
    let upper: HostDirectoryLayer
    let lowers: [any ReadableLayer]
    let upperPath: String
    let lowerPaths: [String]

    /// Canonical, checked paths of UPPER and the lowers (nothing opened yet); the layers must
    /// not nest with each other or with `mountPoint` (nil for the virtiofs backend). A missing
    /// UPPER is checked where it would be before it is created: a refused command line must
    /// leave the lowers untouched.
    static func checkedPaths(upper: String, lowers: [String], mountPoint: String?) throws(SetupFailure) -> (upper: String, lowers: [String]) {
        var lowerPaths: [String] = []
        for lower in lowers { lowerPaths.append(try SetupChecks.existingDirectory(lower, role: "lower directory")) }
        try SetupChecks.checkNesting(mountPoint: mountPoint, upper: SetupChecks.prospectivePath(upper), lowers: lowerPaths)
        try SetupChecks.createUpperIfMissing(upper)
        let upperPath = try SetupChecks.existingDirectory(upper, role: "upper directory")
        try SetupChecks.checkNesting(mountPoint: mountPoint, upper: upperPath, lowers: lowerPaths)
        return (upperPath, lowerPaths)
    }

    /// Opens the layers: the repository (highest lower) first, then the lower directories.
    static func open(upperPath: String, lowerPaths: [String], repository: RepositorySettings?, logger: Logger) throws -> OverlayLayers {
        var lowers: [any ReadableLayer] = []
        if let repository {
            lowers.append(try RepositoryLayer.open(repository, logger: logger))
        }
        do {
            let upper = try HostDirectoryLayer(path: upperPath, name: "upper \(upperPath)")
            for (index, path) in lowerPaths.enumerated() {
                lowers.append(try HostDirectoryLayer(path: path, name: "lower \(lowers.count + index + 1) \(path)"))
            }
            return OverlayLayers(upper: upper, lowers: lowers, upperPath: upperPath, lowerPaths: lowerPaths)
        } catch {
            throw SetupFailure(message: "cannot open layer directories: \(error)", status: ExitStatus.invalidSetup)
        }
    }

    /// Lets go of what still refers to the user's terminal once the daemon detached: git
    /// processes a --repo layer started while mounting inherited its stderr.
    func detachFromTerminal() {
        for case let repository as DicfuseLayer in lowers { repository.closeIdleRemoteConnections() }
    }

    /// A new overlay over these layers (each virtiofs connection gets its own inode table).
    func fileSystem(passthrough: Bool, writebackCache: Bool, stack: OverlayStackSettings, logger: Logger) throws -> OverlayFileSystem {
        var options = OverlayOptions()
        options.writebackCache = writebackCache
        options.passthrough = passthrough && !stack.noOpen
        options.extendedAttributes = stack.extendedAttributes
        options.noOpen = stack.noOpen
        return try OverlayFileSystem(upper: upper, lowers: lowers, options: options, logger: logger)
    }
}
