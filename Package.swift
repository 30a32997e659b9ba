// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "VolScale",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "VolScaleCore", targets: ["VolScaleCore"]),
        .library(name: "VolScaleData", targets: ["VolScaleData"]),
        .library(name: "VolScaleRisk", targets: ["VolScaleRisk"]),
        .library(name: "VolScaleMargin", targets: ["VolScaleMargin"]),
        .executable(name: "volscale", targets: ["volscale"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        // MARK: - Numeric core (no I/O, no Foundation)
        .target(
            name: "VolScaleCore",
            dependencies: [.product(name: "RealModule", package: "swift-numerics")]
        ),

        // MARK: - Market data (files in, series out)
        // zlib for .gz price files (Debian's zlib1g-dev; scripts/test.sh installs it when missing),
        // ZIPFoundation for .zip archives as Binance publishes them
        .systemLibrary(name: "CVolScaleZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "VolScaleData",
            dependencies: [
                "VolScaleCore", "CVolScaleZlib",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),

        // MARK: - Risk measures, margin models, backtests (pure computation)
        .target(name: "VolScaleRisk", dependencies: ["VolScaleCore"]),

        // MARK: - Accounts: haircuts, size add-ons, standard and portfolio margin, stress (pure computation)
        .target(name: "VolScaleMargin", dependencies: ["VolScaleCore", "VolScaleRisk"]),

        // MARK: - Live engine: trusted prices, streaming volatility, publications (pure computation)
        .target(name: "VolScaleEngine", dependencies: ["VolScaleCore", "VolScaleRisk", "VolScaleMargin"]),

        // MARK: - Storage: SQLite (embedded) and PostgreSQL, audit chain
        .target(
            name: "VolScaleStore",
            dependencies: [
                "VolScaleEngine",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: - The service (a library, so tests and `volscale serve` build the same application)
        .target(
            name: "VolScaleServer",
            dependencies: [
                "VolScaleEngine", "VolScaleStore", "VolScaleMargin", "VolScaleConfig", "VolScaleData", "VolScaleRisk",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Yams", package: "Yams"),
            ],
            // openapi.yaml is the API's single source of truth: the build plugin generates the
            // types and the handler protocol from it, and the service serves the same file
            resources: [.copy("Resources/dashboard"), .copy("openapi.yaml")],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),

        // MARK: - Configuration files (TOML) for margin models
        .target(
            name: "VolScaleConfig",
            dependencies: [
                "VolScaleRisk", "VolScaleMargin", "VolScaleData", "VolScaleEngine",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // MARK: - Fuzzing (libFuzzer): request decoding and the price-file readers.
        // `scripts/fuzz.sh` builds it with -sanitize=fuzzer -D FUZZING; a plain build gives a
        // runner that replays saved inputs through the same harness.
        .executableTarget(
            name: "volscale-fuzz", dependencies: ["VolScaleConfig", "VolScaleData"], path: "Fuzz/volscale-fuzz"),

        // MARK: - Command line
        .target(
            name: "VolScaleCLI",
            dependencies: [
                "VolScaleCore", "VolScaleData", "VolScaleRisk", "VolScaleMargin", "VolScaleConfig", "VolScaleEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The one executable: the batch commands and the service's (serve, ingest, replay, params, audit).
        .executableTarget(name: "volscale", dependencies: ["VolScaleCLI", "VolScaleServiceCLI"]),
        // The commands that run or read the live service (serve, ingest, replay, params, audit).
        .target(
            name: "VolScaleServiceCLI",
            dependencies: [
                "VolScaleCLI", "VolScaleConfig", "VolScaleData", "VolScaleEngine", "VolScaleStore", "VolScaleServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: - Benchmarks (release builds only; never a dependency of the library)
        .executableTarget(
            name: "volscale-bench",
            dependencies: [
                "VolScaleCore", "VolScaleData", "VolScaleRisk", "VolScaleMargin", "VolScaleEngine", "VolScaleStore",
                "VolScaleConfig", .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Benchmarks/volscale-bench"
        ),

        // MARK: - Tests
        // Paths, fixtures, data loaders and the closeness rule, shared by every test target.
        .target(name: "VolScaleTestSupport", path: "Tests/VolScaleTestSupport"),
        .testTarget(name: "VolScaleCoreTests", dependencies: ["VolScaleCore", "VolScaleTestSupport"]),
        .testTarget(name: "VolScaleDataTests", dependencies: ["VolScaleData", "VolScaleTestSupport"]),
        .testTarget(
            name: "VolScaleRiskTests",
            dependencies: ["VolScaleRisk", "VolScaleConfig", "VolScaleData", "VolScaleTestSupport"]),
        .testTarget(
            name: "VolScaleMarginTests", dependencies: ["VolScaleMargin", "VolScaleConfig", "VolScaleTestSupport"]),
        .testTarget(
            name: "VolScaleEngineTests",
            dependencies: ["VolScaleEngine", "VolScaleRisk", "VolScaleMargin", "VolScaleData", "VolScaleTestSupport"]),
        .testTarget(
            name: "VolScaleStoreTests",
            dependencies: ["VolScaleStore", "VolScaleEngine", "VolScaleConfig", "VolScaleTestSupport"]),
        .testTarget(
            name: "VolScaleServerTests",
            dependencies: [
                "VolScaleServer", "VolScaleStore", "VolScaleEngine", "VolScaleTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "VolScaleCLITests", dependencies: ["VolScaleCLI", "VolScaleTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
