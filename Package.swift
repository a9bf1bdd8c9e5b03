// swift-tools-version:6.0
// Scorpio Provider: an overlay of a lazily loaded git commit, a change-list layer and a writable
// upper directory, served over /dev/fuse (HostFUSE) and vhost-user virtiofs (VirtioFSBridge).
// Imports only go downward: Provider → HostFUSE/Overlay → FUSEWire; everything with syscalls →
// ScorpioSys → CScorpioLinux.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "scorpio-provider",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scorpio-provider", targets: ["Provider"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .target(name: "CScorpioLinux"),
        .target(
            name: "ScorpioSys",
            dependencies: ["CScorpioLinux", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        .target(
            name: "FUSEWire",
            dependencies: [
                "ScorpioSys",  // RequestInterruption: which request a thread serves, for INTERRUPT
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "HostFUSE",
            dependencies: ["FUSEWire", "ScorpioSys", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "Overlay",
            dependencies: ["FUSEWire", "ScorpioSys", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "VirtioFSBridge",
            dependencies: [
                "FUSEWire", "ScorpioSys",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        .systemLibrary(name: "CZlib"),
        // libcurl for https:// remotes (Debian: libcurl4-openssl-dev).
        .target(name: "CCurlShim", linkerSettings: [.linkedLibrary("curl")]),
        .target(
            name: "Dicfuse",
            dependencies: [
                "Overlay", "ScorpioSys", "CZlib", "CCurlShim",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "TOMLKit", package: "TOMLKit"),  // the credentials file
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "Provider",
            dependencies: [
                "HostFUSE", "VirtioFSBridge", "Overlay", "FUSEWire", "ScorpioSys", "Dicfuse",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "FUSEWireTests",
            dependencies: [
                "FUSEWire",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "OverlayTests",
            dependencies: [
                "Overlay", "FUSEWire", "ScorpioSys",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "DicfuseTests",
            dependencies: [
                "Dicfuse", "Overlay", "ScorpioSys",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "VirtioFSBridgeTests",
            dependencies: [
                "VirtioFSBridge", "FUSEWire", "Overlay", "ScorpioSys",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Drives the built scorpio-provider binary through shell scripts (mount, check, unmount).
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["ScorpioSys", .product(name: "SystemPackage", package: "swift-system")],
            exclude: ["scripts"],
            swiftSettings: strict),
    ]
)
