// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "openclaw-ha",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "clawgate", targets: ["clawgate"]),
        .executable(name: "clawsim", targets: ["clawsim"]),
        .executable(name: "clawbench", targets: ["clawbench"]),
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
    ],
    targets: [
        /// Small pieces both servers share: JSON error bodies, SSE parsing, seeded random numbers, launching.
        .target(
            name: "ClawShared",
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
                "ClawShared",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "ClawGateKit",
            dependencies: [
                "ClawShared",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            exclude: ["openapi.yaml"]
        ),
        .target(
            name: "ClawTesting",
            dependencies: [
                "ClawSimKit",
                "ClawGateKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "clawsim",
            dependencies: [
                "ClawSimKit", "ClawShared",

                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "clawgate",
            dependencies: [
                "ClawGateKit", "ClawShared",

                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "clawbench",
            dependencies: [
                "ClawTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "ClawGateTests",
            dependencies: ["ClawTesting", "ClawGateKit", "ClawSimKit"]
        ),
    ]
)
