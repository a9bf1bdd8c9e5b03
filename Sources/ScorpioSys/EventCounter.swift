// eventfd(2) counters: virtqueue kick and call notifications, and waking a blocked worker.
import CScorpioLinux
import Glibc
import SystemPackage

public enum EventCounter {
    /// A new close-on-exec eventfd starting at 0.
    public static func create() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retrying { scorpio_eventfd(0, Int32(O_CLOEXEC))  /* EFD_CLOEXEC == O_CLOEXEC */ })
    }

    /// Adds 1 (wakes readers and pollers).
    public static func signal(_ descriptor: FileDescriptor) {
        var one: UInt64 = 1
        _ = try? retrying { Glibc.write(descriptor.rawValue, &one, 8) }
    }

    /// Reads and resets the counter (blocks while it is 0 unless the fd is non-blocking).
    public static func drain(_ descriptor: FileDescriptor) {
        var value: UInt64 = 0
        _ = try? retrying { Glibc.read(descriptor.rawValue, &value, 8) }
    }

    /// Waits until one of `descriptors` is readable; returns the index of the first readable one.
    public static func waitForAny(_ descriptors: [FileDescriptor]) throws(Errno) -> Int {
        var polls = descriptors.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
        _ = try retrying { poll(&polls, nfds_t(polls.count), -1) }
        return polls.firstIndex { $0.revents != 0 } ?? 0
    }
}
