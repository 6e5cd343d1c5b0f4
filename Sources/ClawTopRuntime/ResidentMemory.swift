#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Keeps the console's resident code to what it runs. A statically linked Swift binary holds the
/// standard library, Foundation and ICU (about 80 MB of file), and the kernel maps file pages
/// around each page fault (fault-around, read-ahead), so a console that executes a few MB of code
/// held 14 MB of its own binary and several MB of libcurl's TLS libraries resident. This tells the
/// kernel that the program's read-only mappings are read at random (no fault-around), and, once the
/// console has drawn its first polls, lets go of the code pages it touched while starting: those it
/// runs come back one page at a time from the page cache. Only code mappings (`r-xp`, never
/// written) are let go; read-only data may hold relocations applied at load time (RELRO), so it is
/// only advised, never dropped.
public enum ResidentMemory {
    struct Mapping: Equatable {
        var start: UInt
        var end: UInt
        var permissions: String
        var path: String
    }

    /// `/proc/self/maps` lines to the file-backed mappings that are not writable.
    static func readOnlyMappings(_ maps: String) -> [Mapping] {
        maps.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5].hasPrefix("/") else { return nil }
            let permissions = String(fields[1])
            guard permissions.count == 4, permissions.hasPrefix("r"), permissions.dropFirst().first == "-", permissions.hasSuffix("p") else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { return nil }
            return Mapping(start: start, end: end, permissions: permissions, path: fields[5...].joined(separator: " "))
        }
    }

    /// Seconds after the screen opens: by then the first polls have been drawn.
    public static let releaseAfter = 5.0

    static func mappings() -> [Mapping] {
        // A /proc file has no size: read until its end (a one-read helper stops at the first page).
        #if canImport(Glibc)
        let fd = open("/proc/self/maps", O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return readOnlyMappings(String(decoding: bytes, as: UTF8.self))
        #else
        return []
        #endif
    }

    /// At start: no fault-around or read-ahead on the program's and its libraries' read-only mappings.
    public static func adviseRandomAccess() {
        #if canImport(Glibc)
        for m in mappings() { advise(m, MADV_RANDOM) }
        #endif
    }

    /// Once running: let go of the resident code pages (they are clean copies of the files); what
    /// runs next is faulted back in, page by page.
    public static func releaseStartupCode() {
        #if canImport(Glibc)
        // Random first (a library loaded since start-up was not advised), then dropped.
        for m in mappings() where m.permissions == "r-xp" {
            advise(m, MADV_RANDOM)
            advise(m, MADV_DONTNEED)
        }
        #endif
    }

    #if canImport(Glibc)
    private static func advise(_ m: Mapping, _ advice: Int32) {
        _ = madvise(UnsafeMutableRawPointer(bitPattern: m.start), Int(m.end - m.start), advice)
    }
    #endif
}

