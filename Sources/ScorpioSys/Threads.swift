// Dedicated kernel threads for blocking reads (/dev/fuse, vhost-user sockets). Blocking calls
// must not run on Swift's cooperative pool, which has one thread per core (two here).
import Glibc
import SystemPackage

/// A joinable POSIX thread running a closure.
public struct KernelThread: Sendable {
    private let thread: pthread_t

    /// Starts `body` on a new thread with an 8 MiB stack (recursive copy-up of a directory tree
    /// can nest deeply).
    public static func start(_ body: @escaping @Sendable () -> Void) throws(Errno) -> KernelThread {
        let box = Unmanaged.passRetained(ThreadBody(body))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 8 << 20)
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { raw in
            // SAFETY: `raw` is the retained ThreadBody passed below; it is released exactly once here.
            let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, box.toOpaque())
        guard result == 0 else {
            box.release()
            throw Errno(rawValue: result)
        }
        return KernelThread(thread: thread)
    }

    /// pthread_join(3).
    public func join() {
        pthread_join(thread, nil)
    }

    /// pthread_detach(3): nobody joins it; it frees itself when it ends.
    public func detach() {
        pthread_detach(thread)
    }
}

private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
