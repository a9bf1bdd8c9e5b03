// A progress line on the user's terminal while a mount fetches the trees of a commit (the
// only fetch long enough to wait for): objects in the pack, bytes received, rate. Written to
// the user's stderr (UserOutput: also with --log-file) only when it is a terminal, redrawn at most ten times a second, and cleared when done;
// without a terminal the caller's summary log line is all there is.
import Glibc
import ScorpioSys

final class FetchProgress {
    let label: String
    let started = monotonicSeconds()
    private var lastDrawn = 0.0
    private var drewSomething = false
    let interactive: Bool

    init(label: String) {
        self.label = label
        self.interactive = isatty(UserOutput.descriptor) == 1
    }

    /// `objects` parsed so far, of the `total` the pack's header declares (once it arrived).
    func update(bytes: Int, objects: Int, of total: Int?) {
        guard interactive else { return }
        let now = monotonicSeconds()
        guard now - lastDrawn >= 0.1 else { return }
        lastDrawn = now
        draw(bytes: bytes, objects: total.map { "\(objects)/\($0) objects, " } ?? "", elapsed: now - started)
    }

    /// Draws the final state and ends the line.
    func finish(bytes: Int, objects: Int) {
        guard interactive else { return }
        draw(bytes: bytes, objects: "\(objects) objects, ", elapsed: monotonicSeconds() - started)
        if drewSomething { UserOutput.writeToUserOnly("\n") }
    }

    private func draw(bytes: Int, objects: String, elapsed: Double) {
        let megabytes = Double(bytes) / 1_048_576
        let rate = elapsed > 0 ? megabytes / elapsed : 0
        let line = "\r\(label): \(objects)\(formatted(megabytes)) MiB received, \(formatted(rate)) MiB/s\u{1B}[K"
        UserOutput.writeToUserOnly(line)
        drewSomething = true
    }

    private func formatted(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
