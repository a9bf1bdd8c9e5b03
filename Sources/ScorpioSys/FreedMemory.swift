// Giving freed heap memory back to the system. glibc keeps what a program frees for its next
// allocations; a daemon whose working set shrank for good (the kernel forgot most inodes)
// would otherwise keep its peak RSS.
import CScorpioLinux

public enum FreedMemory {
    /// Returns the free pages of the heap to the system (malloc_trim). Takes a few
    /// milliseconds on a heap of hundreds of MiB: call it after a large shrink, not per free.
    public static func release() { _ = scorpio_malloc_trim() }
}
