import ClawTopCore
import Foundation

/// Theme files: found on a search path and read from disk, outside the pure core.
public enum ThemeLoader {
    /// Folders searched for `NAME.theme`: $CLAWTOP_THEMES, the config folder, ./themes, and a
    /// `themes` folder beside the binary or up to four folders above it (a build folder in a checkout).
    public static func searchPath(environment: [String: String], executable: String = CommandLine.arguments.first ?? "") -> [String] {
        var dirs: [String] = []
        if let dir = environment["CLAWTOP_THEMES"] { dirs.append(dir) }
        let config = environment["XDG_CONFIG_HOME"] ?? ((environment["HOME"] ?? "") + "/.config")
        dirs.append(config + "/clawtop/themes")
        dirs.append(FileManager.default.currentDirectoryPath + "/themes")
        var folder = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            dirs.append(folder.appendingPathComponent("themes").path)
            folder = folder.deletingLastPathComponent()
        }
        return dirs
    }

    /// Load a theme by name (from the search path) or by path.
    public static func load(_ nameOrPath: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ThemeError) -> Theme {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasSuffix(".theme")
        let candidates = isPath ? [nameOrPath] : searchPath(environment: environment).map { "\($0)/\(nameOrPath).theme" }
        for path in candidates where FileManager.default.fileExists(atPath: path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ThemeError(file: path, line: 0, message: "cannot read the file")
            }
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            return try Theme.parse(text, name: name, file: path)
        }
        if nameOrPath == "dark" { return Theme.builtIn }
        throw ThemeError(file: isPath ? nameOrPath : "\(nameOrPath).theme", line: 0,
                         message: isPath ? "no such file" : "unknown theme; shipped: \(Theme.shipped.joined(separator: ", ")) (looked in \(searchPath(environment: environment).joined(separator: ", ")))")
    }

}
