// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "kprune",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kprune", targets: ["kprune"]),
        .library(name: "KerasFormat", targets: ["KerasFormat"]),
        .library(name: "PruningEngine", targets: ["PruningEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // C interop: libhdf5's headers plus static inline getters for the macros Swift cannot import.
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5-serial",
            providers: [.apt(["libhdf5-dev"])]
        ),
        // C interop: OpenBLAS's CBLAS interface, for the fine-tune's matrix products.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // C interop: system calls Swift cannot make or see reliably (variadic `prctl`, `struct stat`).
        .target(name: "CProcess"),
        // Safe Swift layer over libhdf5: owned handles, errors carrying libhdf5's error stack.
        .target(name: "HDF5", dependencies: ["CHDF5"], swiftSettings: strict),
        // Zip members streamed a bounded buffer at a time: never held whole in memory or extracted to disk.
        .target(
            name: "ZipStreaming",
            dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: strict
        ),
        // Keras file formats: locating layers and weights, reading configs, writing outputs atomically.
        .target(
            name: "KerasFormat",
            dependencies: ["HDF5", "ZipStreaming", "CProcess", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: strict
        ),
        // Calibration data: arrays from .npy, .npz and HDF5 files, read by rows.
        .target(
            name: "CalibrationData",
            dependencies: ["HDF5", "ZipStreaming", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: strict
        ),
        // The engine: exact-count pruning of a layer's kernel.
        .target(name: "PruningEngine", dependencies: ["KerasFormat", "CalibrationData", "HDF5", "CBLAS"],
                swiftSettings: strict),
        // The command-line tool.
        .executableTarget(
            name: "kprune",
            dependencies: [
                "PruningEngine", "KerasFormat", "CalibrationData", "CProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Fixture manifest and temporary directories, shared by the test targets.
        .target(name: "TestSupport", dependencies: ["TestEnvironment"], path: "Tests/TestSupport",
                swiftSettings: strict),
        // Process-wide settings for the test binary (libhdf5's file locking off), applied before main.
        .target(name: "TestEnvironment", path: "Tests/TestEnvironment"),
        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "KerasFormatTests", dependencies: ["KerasFormat", "HDF5", "TestSupport"],
                    swiftSettings: strict),
        .testTarget(
            name: "CalibrationDataTests",
            dependencies: ["CalibrationData", "HDF5", "TestSupport",
                           .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: strict
        ),
        .testTarget(name: "PruningEngineTests",
                    dependencies: ["PruningEngine", "KerasFormat", "HDF5", "TestSupport",
                                   .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                    swiftSettings: strict),
        .testTarget(name: "KpruneCLITests", dependencies: ["kprune", "KerasFormat", "HDF5", "TestSupport"],
                    swiftSettings: strict),
    ]
)
