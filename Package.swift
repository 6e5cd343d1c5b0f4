// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "openclaw-ha",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "clawgate", targets: ["clawgate"]),
        .executable(name: "clawsim", targets: ["clawsim"]),
        .executable(name: "clawbench", targets: ["clawbench"]),
        .executable(name: "clawtop", targets: ["clawtop"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // Only the OTLP/HTTP exporter: the gRPC one would bring grpc-swift and many minutes of build.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .systemLibrary(name: "CNCursesW", pkgConfig: "ncursesw", providers: [.apt(["libncursesw5-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        /// The console's HTTP client: libcurl multi, the only importer of libcurl.
        .target(name: "ClawCurl", dependencies: ["CCurl"]),
        /// The console's pure core: fleet model, state, keys, reducer, layout, rendering into a cell buffer.
        .target(name: "ClawTopCore", dependencies: ["ClawShared", "ClawAdminAPI", "ClawOperator"]),
        /// The terminal driver: the only importer of ncurses.
        .target(name: "ClawTerminal", dependencies: ["ClawTopCore", "CNCursesW"]),
        /// The console's runtime: poller, action sender, demo fleet, config file, theme files and the
        /// loop that runs the reducer's effects; everything the executable does but parse arguments.
        .target(
            name: "ClawTopRuntime",
            dependencies: [
                "ClawTopCore", "ClawTerminal", "ClawCurl", "ClawShared", "ClawAdminAPI",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        /// Argument parsing only.
        .executableTarget(
            name: "clawtop",
            dependencies: [
                "ClawTopRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        /// The admin API's wire model: Codable types for every request and answer, encoded by the
        /// gateway and decoded by the console. No networking library.
        .target(name: "ClawAdminAPI", dependencies: ["ClawShared"]),
        /// The operator core both sides share: the state document and its commands (each a pure
        /// `apply` checked against the configuration), the routing worked out from them, and the
        /// admin endpoint table. No networking library, no I/O.
        .target(name: "ClawOperator", dependencies: ["ClawShared", "ClawAdminAPI"]),
        /// Small pure pieces every program shares: JSON values, OpenAI error bodies, SSE parsing,
        /// seeded random numbers, shutdown signals. No networking library.
        .target(name: "ClawShared"),
        /// Launching Hummingbird servers on port 0 and running concurrency on the NIO event loops.
        .target(
            name: "ClawServerSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ClawSimKit",
            dependencies: [
                "ClawShared", "ClawServerSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "ClawGateKit",
            dependencies: [
                "ClawShared", "ClawServerSupport", "ClawAdminAPI", "ClawOperator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            exclude: ["openapi.yaml"]
        ),
        .target(
            name: "ClawTesting",
            dependencies: [
                "ClawSimKit",
                "ClawGateKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "clawsim",
            dependencies: [
                "ClawSimKit", "ClawShared", "ClawServerSupport",

                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "clawgate",
            dependencies: [
                "ClawGateKit", "ClawShared", "ClawServerSupport",

                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "clawbench",
            dependencies: [
                "ClawTesting", "ClawTopCore", "ClawAdminAPI", "ClawServerSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "ClawTopTests",
            dependencies: ["ClawTopCore", "ClawTopRuntime", "ClawTerminal", "ClawCurl", "ClawTesting", "ClawGateKit", "ClawSimKit", "ClawShared", "ClawAdminAPI", "ClawOperator"],
            exclude: ["Snapshots"]
        ),
        .testTarget(
            name: "ClawGateTests",
            dependencies: [
                "ClawTesting", "ClawGateKit", "ClawSimKit", "ClawAdminAPI", "ClawOperator",
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            exclude: ["Golden"]
        ),
    ]
)
