// One 64-bit FNV-1a hash for the places that need a short, stable, non-cryptographic name:
// per-path inode numbers in DicfuseLayer, per-URL ref directories in ObjectStore, and
// directory cookies in the overlay.

/// FNV-1a (64-bit) of `bytes`.
public func fnv1a<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}
