// Real /dev/fuse mounts, driven by the scripts next to this file (each mounts, checks, and
// always unmounts in a trap). A missing prerequisite (root, /dev/fuse, the built binary) is a
// failure with a clear message, never a silent skip.
import Foundation
import Testing

@Suite(.serialized)
struct MountScriptTests {
    @Test func posixBehaviourSuite() throws { try runScript("posix_suite.sh") }
    @Test func kernelOverlayfsReadsTheSameTree() throws { try runScript("overlayfs_compat.sh") }
    @Test func passthroughKeepsReadsAndWritesOutOfTheDaemon() throws { try runScript("passthrough.sh") }
    @Test func fsyncedDataSurvivesDaemonKill() throws { try runScript("crash_recovery.sh") }
    @Test func commandLineErrorsAndDaemonLifecycle() throws { try runScript("cli_errors.sh") }
    @Test func dicfuseServesACommitLazilyFromGitServers() throws { try runScript("dicfuse_remote.sh") }
}

/// Runs one script, failing the test with its whole output when it reports a failure.
func runScript(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("scripts")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [scripts.appendingPathComponent(name).path]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    print(text)
    #expect(process.terminationStatus == 0, "\(name) failed:\n\(text)", sourceLocation: sourceLocation)
    #expect(text.contains(" checks, 0 failed"), "\(name) did not finish its checks:\n\(text)", sourceLocation: sourceLocation)
}
