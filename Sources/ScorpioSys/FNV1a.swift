// One 64-bit FNV-1a hash for the places that need a short, stable, non-cryptographic name:
// per-path inode numbers in DicfuseLayer, per-URL ref directories in ObjectStore, and
// directory cookies in the overlay (whose order Dicfuse's walk prefetch follows).

/// FNV-1a (64-bit) of `bytes`.
public func fnv1a<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}

/// A name's READDIR cookie in the overlay: 63 bits of its FNV-1a hash (telldir's long stays
/// positive), at least 3 (0 starts a listing, 1 and 2 are "." and ".."). Listings are served
/// in cookie order, so this is also the order in which tar, find and grep -r visit a
/// directory's entries, which Dicfuse follows when it fetches ahead of a walk.
public func listingCookie<Bytes: Sequence<UInt8>>(of name: Bytes) -> UInt64 {
    max(fnv1a(name) >> 1, 3)
}
