// CLOCK_MONOTONIC in nanoseconds, for short intervals on hot paths (a vDSO call, no syscall).
import Glibc

public func monotonicNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}
