// The `scorpio-provider` command line. `scorpio-provider --mount MNT --upper U --lower L...`
// mounts an overlay; `scorpio-provider unmount MNT` ends one. Parsing only: the work is in
// HostMountRunner and Unmount.
import ArgumentParser
import Dicfuse
import Foundation
import Logging
import ScorpioSys

@main
struct ScorpioProvider: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scorpio-provider",
        abstract: "Mount a copy-on-write overlay workspace through FUSE, or serve it to a VM over virtiofs.",
        discussion: "Exit codes: 0 success, 1 runtime failure, 2 invalid setup (paths), 3 FUSE unavailable or not permitted, 64 bad arguments.",
        subcommands: [UnmountCommand.self, PrefetchCommand.self, CacheCommand.self])

    @Option(name: .customLong("mount"), help: "Mount point (an existing, empty directory).")
    var mountPoint: String?

    @Option(help: "Serve the overlay to a QEMU guest as a vhost-user-fs backend on this Unix socket (instead of --mount).")
    var virtiofs: String?

    @Option(help: "With --virtiofs: request queues offered to the guest (besides the hiprio queue).")
    var queues: Int = 1

    @Flag(help: "With --virtiofs: wait for the next connection when the guest disconnects instead of exiting.")
    var persist = false

    @Option(help: "Writable upper directory; created if missing.")
    var upper: String?

    @Option(help: "Read-only lower directories, highest first, separated by ':' (below --repo when both are given).")
    var lower: String?

    @Option(help: "A git repository to mount lazily: a local path, file://, ssh://, host:path, git://, http:// or https:// URL.")
    var repo: String?

    @Option(help: "Branch, tag or commit of --repo (default: the remote's HEAD).")
    var ref: String?

    /// --cache, shared with the `cache` subcommands (ArgumentParser hands a parent's option
    /// group to children that declare the same type).
    @OptionGroup var cacheOptions: CacheOptions

    @Option(help: "Fetch along with a missed file: none, siblings (small files of the same directory), all.")
    var prefetch: String = "siblings"

    @Option(help: "Trees of --repo: eager (all fetched at mount) or lazy (on first lookup of a directory, with its sibling directories' trees).")
    var trees: String = "eager"

    @Option(help: "With an http(s) --repo: the TOML file of credentials ([[remote]] tables with url and token, or user and password; mode 600). Default: $SCORPIO_CREDENTIALS, else /etc/scorpio/credentials.toml as root, ~/.config/scorpio/credentials.toml otherwise.")
    var credentials: String?

    @Option(help: "Seconds to wait for the git server before reads of uncached files fail with EIO.")
    var fetchTimeout: Double = 30

    @Option(help: "Worker threads reading /dev/fuse, or with --io-uring the threads of the per-CPU queues together, at least two per queue (default: 2 x cores).")
    var threads: Int?

    @Flag(help: "Serve reads and writes through the daemon instead of FUSE passthrough.")
    var noPassthrough = false

    @Flag(help: "Answer ENOSYS to extended attribute requests, so the kernel stops sending them (as virtiofsd without --xattr): no GETXATTR before each write and chown, and no xattrs in the workspace.")
    var noXattr = false

    @Flag(help: "Answer OPEN with ENOSYS: the kernel opens files without asking the daemon and keeps their page cache across opens (no round trip per open, warm reads at native speed), and reads and writes go through the daemon (no passthrough).")
    var noOpen = false

    @Flag(help: "Take requests through FUSE over io_uring (kernel 6.14+): one queue per CPU, served on that CPU, instead of worker threads reading /dev/fuse. As root the daemon turns the fuse module's enable_uring parameter on.")
    var ioUring = false

    @Flag(help: "Let the kernel cache writes (turns passthrough off: the kernel allows only one of them).")
    var writebackCache = false

    @Option(help: "Seconds the kernel may cache attributes.")
    var attrTimeout: Double = 600.0

    @Option(help: "Seconds the kernel may cache names.")
    var entryTimeout: Double = 600.0

    @Flag(help: "Stay attached and log to stderr instead of returning once the mount is ready.")
    var foreground = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Append logs to this file (a daemon otherwise discards them).")
    var logFile: String?

    /// ArgumentParser prints a usage block under every parse error; scorpio's errors are one
    /// line (scripts keep the last line of stderr), so a bad argument prints
    /// "scorpio-provider: MESSAGE (see --help)" and exits 64. Help, version and the exit codes
    /// thrown by the commands go through ArgumentParser as usual.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ExitCode {
            exit(withError: error)
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }
            let message = self.message(for: error).split(whereSeparator: \.isNewline).joined(separator: "; ")
            printError(message.isEmpty ? "invalid arguments (see --help)" : "\(message) (see --help)")
            exit(withError: ExitCode(code.rawValue))
        }
    }

    /// Checks the root command's own arguments. Not `validate()`: ArgumentParser validates
    /// parent commands of a subcommand too, and `unmount MNT` has no --mount.
    func checkArguments() throws {
        guard mountPoint != nil || virtiofs != nil else { throw ValidationError("--mount MNT or --virtiofs SOCKET is required (or use a subcommand: unmount)") }
        guard mountPoint == nil || virtiofs == nil else { throw ValidationError("--mount and --virtiofs exclude each other") }
        guard queues >= 1, queues <= 64 else { throw ValidationError("--queues must be between 1 and 64") }
        guard virtiofs == nil || !ioUring else { throw ValidationError("--io-uring is for host mounts (--mount); virtiofs has its own queues") }
        guard virtiofs != nil || !persist else { throw ValidationError("--persist needs --virtiofs") }
        guard repo != nil || upper != nil else { throw ValidationError("--upper UPPER is required (it defaults to a fresh directory only with --repo)") }
        guard repo != nil || !(lower ?? "").isEmpty else { throw ValidationError("--lower DIR[:DIR...] or --repo URL is required") }
        guard PrefetchPolicy(rawValue: prefetch) != nil else { throw ValidationError("--prefetch must be none, siblings or all") }
        guard trees == "eager" || trees == "lazy" else { throw ValidationError("--trees must be eager or lazy") }
        guard fetchTimeout > 0 else { throw ValidationError("--fetch-timeout must be positive") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        guard attrTimeout >= 0, entryTimeout >= 0 else { throw ValidationError("timeouts must not be negative") }
    }

    func run() throws {
        try checkArguments()
        TerminationSignals.ignoreBrokenPipe()
        if let credentials {
            // The daemon copy inherits the environment (and changes directory: the path is made absolute).
            let path = credentials.hasPrefix("/") ? credentials : FileManager.default.currentDirectoryPath + "/" + credentials
            setenv(HTTPCredentials.fileVariable, path, 1)
        }
        let cacheDirectory = cacheOptions.directory
        let repository = repo.map {
            RepositorySettings(url: $0, ref: ref, cache: cacheDirectory, prefetch: PrefetchPolicy(rawValue: prefetch)!,
                               fetchTimeout: fetchTimeout, lazyTrees: trees == "lazy")
        }
        let stack = OverlayStackSettings(
            upper: upper ?? HostMountSettings.freshUpper(in: cacheDirectory),
            lowers: (lower ?? "").split(separator: ":").map(String.init), repository: repository,
            attributeTimeout: attrTimeout, entryTimeout: entryTimeout, extendedAttributes: !noXattr,
            noOpen: noOpen, logLevel: Logger.Level(rawValue: logLevel)!, logFile: logFile)
        if let virtiofs {
            let settings = VirtioFSSettings(socketPath: virtiofs, stack: stack, requestQueues: queues, persist: persist)
            throw ExitCode(VirtioFSRunner(settings: settings).run())
        }
        let settings = HostMountSettings(
            mountPoint: mountPoint!, stack: stack, threads: threads ?? 2 * ProcessorCount.online,
            passthrough: !noPassthrough, writebackCache: writebackCache, ioUring: ioUring)
        let code = foreground ? HostMountRunner(settings: settings).runForeground() : Daemon.start(settings: settings)
        throw ExitCode(code)
    }
}

/// `scorpio-provider unmount MNT`
struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount a workspace; a stale mount of a dead daemon is detached lazily.")

    @Argument(help: "The mount point.")
    var mountPoint: String

    func run() throws {
        throw ExitCode(Unmount.run(mountPoint))
    }
}
