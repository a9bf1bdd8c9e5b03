// Real /dev/fuse mounts, driven by the scripts next to this file (each mounts, checks, and
// always unmounts in a trap). A missing prerequisite (root, /dev/fuse, the built binary) is a
// failure with a clear message, never a silent skip.
import Foundation
import ScorpioSys
import SystemPackage
import Testing

@Suite(.serialized)
struct MountScriptTests {
    @Test func posixBehaviourSuite() throws { try runScript("posix_suite.sh") }
    @Test func posixBehaviourSuiteWithoutOpen() throws { try runScript("posix_suite.sh", arguments: ["--no-open"]) }
    @Test func posixBehaviourSuiteOverIoUring() throws { try runScript("posix_suite.sh", arguments: ["--io-uring"]) }
    @Test func posixBehaviourSuiteWithWritebackCache() throws { try runScript("posix_suite.sh", arguments: ["--writeback-cache"]) }
    @Test func ioUringServesRequestsOnEveryCPU() throws { try runScript("io_uring.sh") }
    @Test func noOpenKeepsOpensAndReleasesOutOfTheDaemon() throws { try runScript("no_open.sh") }
    @Test func kernelOverlayfsReadsTheSameTree() throws { try runScript("overlayfs_compat.sh") }
    @Test func passthroughKeepsReadsAndWritesOutOfTheDaemon() throws { try runScript("passthrough.sh") }
    @Test func smallLowerFilesAreStoredInThePageCacheAtOpen() throws { try runScript("page_cache_prefill.sh") }
    @Test func fsyncedDataSurvivesDaemonKill() throws { try runScript("crash_recovery.sh") }
    /// With the kernel caching writes, only fsync sends them to the daemon: the case where an
    /// acknowledged fsync that did not reach UPPER would lose data.
    @Test func fsyncedDataSurvivesDaemonKillWithWritebackCache() throws { try runScript("crash_recovery.sh", arguments: ["--writeback-cache"]) }
    @Test func fsyncedDataSurvivesDaemonKillWithoutOpen() throws { try runScript("crash_recovery.sh", arguments: ["--no-open"]) }
    @Test func commandLineErrorsAndDaemonLifecycle() throws { try runScript("cli_errors.sh") }
    @Test func dicfuseServesACommitLazilyFromGitServers() throws { try runScript("dicfuse_remote.sh") }
    @Test func dicfuseMountsBranchesTagsAndCommitsAndSurvivesLostBlobs() throws { try runScript("dicfuse_refs.sh") }
    @Test func dicfuseTakesHTTPCredentialsWithoutShowingThem() throws { try runScript("dicfuse_auth.sh") }
    @Test func dicfuseReadsCachedBlobsAheadOfAWalk() throws { try runScript("dicfuse_read_ahead.sh") }
    @Test func dicfuseAsksForReaddirplusOnEveryCall() throws { try runScript("readdirplus_every_call.sh") }
    @Test func normalUserMountsThroughFusermount3() throws { try runScript("unprivileged.sh") }
    @Test func virtiofsBackendCommandLineAndSocket() throws { try runScript("virtiofs_cli.sh") }
    @Test func qemuGuestWorksInTheVirtiofsExport() throws { try runScript("virtiofs_guest.sh") }
}

/// Runs one script, failing the test with its whole output when it reports a failure. It is
/// started with posix_spawn and an empty signal mask (ChildProcess): the test runner blocks
/// some signals, and a script inheriting that mask could not stop the servers it started.
func runScript(_ name: String, arguments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("scripts/\(name)").path
    let (readEnd, writeEnd) = try makePipe()
    let child = try ChildProcess.spawn(["/bin/bash", script] + arguments, environment: currentEnvironment(),
                                       descriptors: [(writeEnd, 1), (writeEnd, 2)])
    writeEnd.closeQuietly()
    let output = FileHandle(fileDescriptor: readEnd.rawValue, closeOnDealloc: true).readDataToEndOfFile()
    let status = try child.wait()
    let text = String(decoding: output, as: UTF8.self)
    print(text)
    #expect(status == 0, "\(name) failed:\n\(text)", sourceLocation: sourceLocation)
    #expect(text.contains(" checks, 0 failed"), "\(name) did not finish its checks:\n\(text)", sourceLocation: sourceLocation)
}
