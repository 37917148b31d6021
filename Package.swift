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
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Inference", targets: ["Inference"]),
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
        // Atomic outputs, the registry of temporary files to remove, file copies and descriptors.
        .target(name: "FileOutput", dependencies: ["CProcess"], swiftSettings: strict),
        // Arrays read by rows from .npy, .npz and HDF5 files: calibration features and labels.
        .target(
            name: "ArrayIO",
            dependencies: ["HDF5", "ZipStreaming", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: strict
        ),
        // Keras file formats: locating layers and weights, reading configs, rewriting archives.
        .target(
            name: "KerasFormat",
            dependencies: [
                "HDF5", "ZipStreaming", "FileOutput",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: strict
        ),
        // Numbers: the tensor type, matrix products through BLAS with a per-run FLOP count, activations.
        .target(name: "Numerics", dependencies: ["CBLAS"], swiftSettings: strict),
        // Exact sparsity: magnitude keys, streamed selection of the cut, and kernels rewritten segment by
        // segment. The hot generic loops stay in this one module so that they specialize.
        .target(name: "Sparsity", dependencies: ["HDF5", "FileOutput"], swiftSettings: strict),
        // Fine-tuning the final layer: losses, the mask and L1 methods, training data and its split.
        .target(name: "FineTune", dependencies: ["Numerics", "Sparsity", "ArrayIO"], swiftSettings: strict),
        // The forward pass: a Keras model's inference from its config and weights.
        .target(name: "Inference", dependencies: ["KerasFormat", "Numerics", "HDF5"], swiftSettings: strict),
        // The conversion: routing a request, the one write-back, reports, inspection.
        .target(
            name: "Pipeline",
            dependencies: [
                "KerasFormat", "FineTune", "Inference", "Sparsity", "Numerics", "ArrayIO", "FileOutput",
                "HDF5",
            ],
            swiftSettings: strict
        ),
        // The command-line tool.
        .executableTarget(
            name: "kprune",
            dependencies: [
                "Pipeline", "Inference", "Numerics", "FineTune", "Sparsity", "KerasFormat", "ArrayIO", "FileOutput",
                "HDF5", "CProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Fixture manifest, temporary directories and model-file helpers, shared by the test targets.
        .target(
            name: "TestSupport", dependencies: ["TestEnvironment", "KerasFormat", "HDF5"], path: "Tests/TestSupport",
            swiftSettings: strict),
        // Process-wide settings for the test binary (libhdf5's file locking off), applied before main.
        .target(name: "TestEnvironment", path: "Tests/TestEnvironment"),
        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "FileOutputTests", dependencies: ["FileOutput", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ArrayIOTests",
            dependencies: [
                "ArrayIO", "HDF5", "TestSupport", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KerasFormatTests", dependencies: ["KerasFormat", "FileOutput", "HDF5", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "NumericsTests", dependencies: ["Numerics", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SparsityTests",
            dependencies: [
                "Pipeline", "FineTune", "Sparsity", "Numerics", "KerasFormat", "ArrayIO", "FileOutput", "HDF5",
                "TestSupport",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ], swiftSettings: strict),
        .testTarget(
            name: "FineTuneTests",
            dependencies: [
                "Pipeline", "FineTune", "Sparsity", "Numerics", "KerasFormat", "ArrayIO", "FileOutput", "HDF5",
                "TestSupport",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ], swiftSettings: strict),
        .testTarget(
            name: "InferenceTests", dependencies: ["Inference", "Numerics", "KerasFormat", "ArrayIO", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "Pipeline", "FineTune", "Sparsity", "Numerics", "KerasFormat", "ArrayIO", "FileOutput", "HDF5",
                "TestSupport",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ], swiftSettings: strict),
        .testTarget(
            name: "KpruneCLITests",
            dependencies: ["kprune", "KerasFormat", "FileOutput", "ArrayIO", "HDF5", "TestSupport"],
            swiftSettings: strict),
    ]
)
