@testable import ClawTopRuntime
import Foundation
import Testing

/// The console lets go of its start-up code once running (issue 30's 20 MB): only the code
/// mappings of files are dropped, never data, and the process runs on.
@Suite(.serialized) struct ResidentMemoryTests {
    @Test func onlyReadOnlyFileMappingsAreTakenAndOnlyCodeIsDropped() {
        let maps = """
        55d19eb20000-55d1a0164000 r-xp 00000000 fd:01 123 /usr/local/bin/clawtop
        55d1a0165000-55d1a01ff000 r--p 01644000 fd:01 123 /usr/local/bin/clawtop
        55d1a01ff000-55d1a260e000 rw-p 016de000 fd:01 123 /usr/local/bin/clawtop
        7f9a25ac5000-7f9a25d44000 r-xp 000c5000 fd:01 456 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
        7f9a26000000-7f9a26021000 rw-p 00000000 00:00 0
        7ffd1c3f0000-7ffd1c411000 rw-p 00000000 00:00 0                          [stack]
        7ffd1c5f6000-7ffd1c5f8000 r-xp 00000000 00:00 0                          [vdso]
        7f9a26100000-7f9a26200000 r-xp 00000000 fd:01 789 /opt/with space/lib.so
        garbage line
        """
        let taken = ResidentMemory.readOnlyMappings(maps)
        #expect(taken.map(\.permissions) == ["r-xp", "r--p", "r-xp", "r-xp"], "\(taken)")
        #expect(taken[0] == .init(start: 0x55d19eb20000, end: 0x55d1a0164000, permissions: "r-xp", path: "/usr/local/bin/clawtop"))
        #expect(taken[3].path == "/opt/with space/lib.so")
        #expect(!taken.contains { $0.permissions.contains("w") || !$0.path.hasPrefix("/") })
    }

    /// Resident KiB of this process's file-backed code mappings.
    func residentCode() throws -> Int {
        let smaps = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
        var code = false
        var total = 0
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 5, fields[0].contains("-"), fields[0].allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                code = fields[1] == "r-xp" && fields.count >= 6 && fields[5].hasPrefix("/")
            } else if code, fields.first == "Rss:", let kb = Int(fields[1]) {
                total += kb
            }
        }
        return total
    }

    @Test func releasingStartUpCodeDropsResidentCodeAndTheProcessRunsOn() throws {
        // The whole of /proc/self/maps is read, not its first page: every library is found.
        let found = ResidentMemory.mappings()
        #expect(found.contains { $0.path.contains("libc.so") } && found.contains { $0.path.contains("libcurl") }, "\(found.map(\.path))")
        let before = try residentCode()
        ResidentMemory.adviseRandomAccess()
        ResidentMemory.releaseStartupCode()
        let after = try residentCode()
        #expect(after < before / 2, "resident code \(before) KiB before, \(after) KiB after")
        // Code runs on: it is faulted back in as it is needed.
        let decoded = try JSONDecoder().decode([String: Int].self, from: Data(#"{"a":1}"#.utf8))
        #expect(decoded == ["a": 1])
    }
}
