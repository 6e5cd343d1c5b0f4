/// What a cell is for; only the terminal driver knows which colours a role gets.
public enum Role: String, Sendable, CaseIterable {
    case normal, header, headerValue, title, tabActive, tab, border, selected, ok, warn, crit, dim, footer, lock, bar
}

public struct Cell: Sendable, Equatable {
    public var character: Character
    public var role: Role

    public init(_ character: Character = " ", _ role: Role = .normal) {
        self.character = character
        self.role = role
    }
}

/// The screen as cells: views draw into it, tests read it, the driver flushes what changed.
public struct ScreenBuffer: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    /// What ends text cut at its `maxWidth`: `…`, or `~` where the console draws ASCII only.
    public var cutMark: Character = "…"

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        cells[y * width + x]
    }

    /// Write text at (x, y), clipped to the row and the screen, control characters shown escaped
    /// (`\e`, `\n`, `\x00`); text cut at its `maxWidth` ends in `cutMark`, so nothing is cut
    /// without a mark. Returns the column after it.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, role: Role = .normal, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        var column = x
        let limit = min(width, maxWidth.map { x + $0 } ?? width)
        var cut = false
        for character in text {
            if column >= limit { cut = true; break }
            // What the network sent is shown, never obeyed: a control character takes the cells of its escape.
            guard TerminalText.isPlain(character) else {
                for shown in TerminalText.safe(String(character)) {
                    if column >= limit { cut = true; break }
                    if column >= 0 { cells[y * width + column] = Cell(shown, role) }
                    column += 1
                }
                continue
            }
            if column >= 0 { cells[y * width + column] = Cell(character, role) }
            column += 1
        }
        if cut, maxWidth != nil, limit > max(0, x), limit - 1 < width {
            cells[y * width + limit - 1] = Cell(cutMark, role)
        }
        return column
    }

    /// Give a whole row a role (a selection bar, a header line).
    public mutating func fill(row y: Int, role: Role, from x: Int = 0, to end: Int? = nil) {
        guard y >= 0, y < height else { return }
        let stop = min(width, end ?? width)
        guard max(0, x) < stop else { return }
        for column in max(0, x)..<stop {
            cells[y * width + column] = Cell(cells[y * width + column].character, role)
        }
    }

    /// One row as text, trailing spaces kept.
    public func line(_ y: Int) -> String {
        String(cells[(y * width)..<(y * width + width)].map(\.character))
    }

    public var lines: [String] { (0..<height).map(line) }

    /// The rows as text, trailing spaces removed: what a snapshot file holds.
    public var text: String {
        lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n")
    }
}
