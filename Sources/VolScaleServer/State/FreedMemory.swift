/// Gives the heap a large request freed back to the system. glibc keeps freed memory in its
/// arenas (one per thread that allocated it, and a stress run allocates on every core), so
/// without this a process's resident memory stays at its largest request's peak.
enum FreedMemory {
    static func release() {
        #if os(Linux)
            _ = mallocTrim(0)
        #endif
    }
}

#if os(Linux)
    /// glibc's `malloc_trim` (malloc.h, which Swift's Glibc module does not import).
    @_silgen_name("malloc_trim")
    private func mallocTrim(_ pad: Int) -> Int32
#endif
