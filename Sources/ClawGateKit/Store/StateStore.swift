import ClawAdminAPI
import ClawShared
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct StateStoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Operator state written atomically (temp file, fsync, rename, fsync of the folder) and an
/// append-only JSON-lines audit log, in one folder. With no folder, both live in memory only.
public struct StateStore: Sendable {
    public let directory: String?

    public init(directory: String?) { self.directory = directory }

    /// `$XDG_STATE_HOME/clawgate/NODE`, else `~/.local/state/clawgate/NODE`.
    public static func defaultDirectory(nodeID: String, environment: [String: String]) -> String {
        let safe = String(nodeID.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return "\(xdg)/clawgate/\(safe)" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return "\(home)/.local/state/clawgate/\(safe)"
    }

    var statePath: String? { directory.map { $0 + "/state.json" } }
    var auditPath: String? { directory.map { $0 + "/audit.jsonl" } }

    /// Create the folder (mode 0700) if needed.
    public func prepare() throws(StateStoreError) {
        guard let directory else { return }
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw StateStoreError("\(directory) exists and is not a folder") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StateStoreError("cannot create the state folder \(directory): \(error.localizedDescription)")
        }
    }

    /// The saved operator state, or nil when none was saved yet.
    public func load() throws(StateStoreError) -> OperatorState? {
        guard let path = statePath, FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw StateStoreError("cannot read \(path)") }
        do {
            return try OperatorState(json: try JSONValue.parse(bytes: data))
        } catch let error as OperatorStateError {
            throw StateStoreError("\(path) is damaged (\(error)); move it away to start with the configured routing")
        } catch {
            throw StateStoreError("\(path) is not valid JSON (\(error)); move it away to start with the configured routing")
        }
    }

    public func save(_ state: OperatorState) throws(StateStoreError) {
        guard let path = statePath, let directory else { return }
        // A temporary file of its own: two saves at once must not rename each other's.
        let temp = path + ".\(UUID().uuidString).tmp"
        var bytes = state.json.bytes(sorted: true)
        bytes.append(0x0A)
        try Self.writeAll(temp, bytes, flags: O_WRONLY | O_CREAT | O_TRUNC)
        guard rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw StateStoreError("cannot rename \(temp) to \(path): \(reason)")
        }
        let dir = open(directory, O_RDONLY)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    public func append(_ entry: AuditEntry) throws(StateStoreError) {
        guard let path = auditPath else { return }
        var bytes = Array(AdminAPI.encode(entry))
        bytes.append(0x0A)
        // A torn last line (a crash mid-write) would glue this record onto it: start a line first.
        if Self.endsMidLine(path) { bytes.insert(0x0A, at: 0) }
        try Self.writeAll(path, bytes, flags: O_WRONLY | O_CREAT | O_APPEND)
    }

    /// Whether the file's last byte is not a newline (a record was cut short).
    static func endsMidLine(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return false }
        var last: UInt8 = 0
        return pread(fd, &last, 1, size - 1) == 1 && last != 0x0A
    }

    /// The most recent `limit` audit entries on disk, and how many lines could not be read (a torn
    /// record from a crash: left out, and the caller says so).
    public func loadAudit(limit: Int) -> [AuditEntry] { loadAuditReporting(limit: limit).entries }

    public func loadAuditReporting(limit: Int) -> (entries: [AuditEntry], unreadable: Int) {
        guard let path = auditPath, let data = FileManager.default.contents(atPath: path) else { return ([], 0) }
        let lines = data.split(separator: 0x0A).suffix(limit)
        let entries = lines.compactMap { line in try? AdminAPI.decode(AuditEntry.self, from: line) }
        return (entries, lines.count - entries.count)
    }

    static func writeAll(_ path: String, _ bytes: [UInt8], flags: Int32) throws(StateStoreError) {
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw StateStoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateStoreError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw StateStoreError("cannot fsync \(path): \(String(cString: strerror(errno)))") }
    }
}
