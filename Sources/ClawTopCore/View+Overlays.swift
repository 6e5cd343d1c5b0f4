import ClawAdminAPI
import Foundation

/// What opens over a pane: the help and the confirmation dialog.
extension View {
    /// The `:` commands with their arguments (read-only: only those that change nothing).
    static func commandHelp(_ state: AppState) -> [(String, String)] {
        Completion.commands.filter { !state.readOnly || ["theme", "timeline", "quit"].contains($0.verb) }.map { (":" + $0.verb, $0.arguments) }
    }

    static func help(_ state: AppState, _ b: inout ScreenBuffer) {
        if state.helpPage == 1 {
            let rows = commandHelp(state)
            let width = min(b.width - 4, max(50, (rows.map { $0.0.count + $0.1.count }.max() ?? 0) + 16))
            // Tight (no blank line under the title, two rows of margin) when the roomy form does not
            // fit: at 80x24 every command still shows.
            let tight = rows.count + 4 > b.height - 4
            let height = tight ? min(b.height - 2, rows.count + 2) : min(b.height - 4, rows.count + 4)
            let first = tight ? 1 : 2
            let left = (b.width - width) / 2
            let top = (b.height - height) / 2
            for y in top..<(top + height) { b.put(String(repeating: " ", count: width), x: left, y: y, role: .selected) }
            b.put(" Commands after : (Tab completes names; Tab here: keys) ", x: left + 1, y: top, role: .selected, maxWidth: width - 2)
            // The verbs' column as wide as the longest (`:acknowledge`) and a space.
            let verbs = max(11, (rows.map { $0.0.count }.max() ?? 0) + 1)
            for (i, row) in rows.enumerated() where top + first + i < top + height - 1 {
                b.put(Format.pad(row.0, verbs) + row.1, x: left + 2, y: top + first + i, role: .selected, maxWidth: width - 4)
            }
            return
        }
        let rows = KeyMap.visible(readOnly: state.readOnly)
        // Two columns when one does not fit the height (80x24 has room for 17 lines).
        let columns = rows.count + 4 > b.height - 4 && b.width >= 70 ? 2 : 1
        let perColumn = (rows.count + columns - 1) / columns
        let width = min(b.width - 4, 44 * columns)
        // Tight (no blank lines around the rows, one row of margin) when the roomy form would cut keys.
        let tight = perColumn + 4 > b.height - 4
        let height = tight ? min(b.height - 2, perColumn + 2) : min(b.height - 4, perColumn + 4)
        let first = tight ? 1 : 2
        let left = (b.width - width) / 2
        let top = (b.height - height) / 2
        for y in top..<(top + height) {
            b.put(String(repeating: " ", count: width), x: left, y: y, role: .selected)
        }
        b.put(" Keys (Esc or ? closes) ", x: left + 1, y: top, role: .selected)
        b.put("Tab: the : commands ", x: left + width - 20, y: top, role: .selected)
        let columnWidth = width / columns
        for (i, binding) in rows.enumerated() {
            let y = top + first + i % perColumn
            guard y < top + height - 1 else { continue }
            b.put(Format.pad(binding.label, 8) + binding.help, x: left + 2 + (i / perColumn) * columnWidth, y: y, role: .selected,
                  maxWidth: columnWidth - 3)
        }
        // The marks the tables put on rows and cells, in the last line.
        b.put(marks(state.ascii), x: left + 2, y: top + height - 1, role: .selected, maxWidth: width - 4)
    }

    /// What the screen's marks mean, for the help's last line.
    static func marks(_ ascii: Bool) -> String {
        ascii ? "Marks: ~ sent, not applied yet  * predicted (Routes)  ^/v sort"
            : "Marks: ⧗ sent, not applied yet  * predicted (Routes)  ▲/▼ sort"
    }

    static func confirm(_ dialog: Confirmation, _ b: inout ScreenBuffer) {
        let preview = dialog.preview?.lines ?? []
        let needsName = dialog.preview?.guardName != nil
        let width = min(b.width - 2, max(50, dialog.plan.summary.count + 4, (preview.map(\.count).max() ?? 0) + 4))
        let room = max(1, width - 4)
        // The summary on up to two lines, broken at a space; then the preview, as many lines as fit.
        var first = dialog.plan.summary
        var second = ""
        if first.count > room {
            let head = first.prefix(room)
            let cut = head.lastIndex(of: " ").map { head.distance(from: head.startIndex, to: $0) } ?? room
            second = String(first.dropFirst(cut)).trimmingCharacters(in: .whitespaces)
            first = String(first.prefix(cut))
        }
        let fixed = 10 + (needsName ? 1 : 0)
        let shown = Array(preview.prefix(max(0, b.height - 2 - fixed)))
        let height = min(b.height, fixed + shown.count)
        let left = max(0, (b.width - width) / 2)
        let top = max(0, (b.height - height) / 2)
        for y in top..<min(b.height, top + height) {
            b.put(String(repeating: " ", count: width), x: left, y: y, role: .selected)
        }
        b.put(" Confirm ", x: left + 1, y: top, role: .title)
        b.put(first, x: left + 2, y: top + 2, role: .selected, maxWidth: room)
        b.put(second, x: left + 2, y: top + 3, role: .selected, maxWidth: room)
        var y = top + 4
        for line in shown {
            let role: Role = line.hasPrefix("REFUSED") ? .crit : line.hasPrefix("warning") ? .warn : .selected
            b.put(line, x: left + 2, y: y, role: role, maxWidth: room)
            y += 1
        }
        b.put(dialog.plan.nodesLine, x: left + 2, y: y, role: dialog.plan.unreachable.isEmpty ? .selected : .warn, maxWidth: room)
        y += 1
        let reasonRole: Role = dialog.focus == .reason ? .tabActive : .selected
        b.put("Reason: " + dialog.reason + (dialog.focus == .reason ? "_" : ""), x: left + 2, y: y, role: reasonRole, maxWidth: room)
        y += 1
        if let name = dialog.preview?.guardName {
            let role: Role = dialog.focus == .typedName ? .tabActive : .crit
            b.put("Type \(name) to confirm: " + dialog.typed + (dialog.focus == .typedName ? "_" : ""), x: left + 2, y: y, role: role, maxWidth: room)
            y += 1
        }
        y += 1
        let cancel = dialog.focus == .cancel ? "[ Cancel ]" : "  Cancel  "
        let ok = dialog.focus == .confirm ? "[ Confirm ]" : "  Confirm  "
        b.put(cancel, x: left + 2, y: y, role: dialog.focus == .cancel ? .tabActive : .selected)
        b.put(ok, x: left + 16, y: y, role: dialog.focus == .confirm ? .crit : .selected)
        b.put(dialogHint(dialog.focus), x: left + 2, y: y + 1, role: .selected, maxWidth: room)
    }

    /// The dialog's keys for where the focus is: in a text field every letter is text.
    static func dialogHint(_ focus: Confirmation.Focus) -> String {
        switch focus {
        case .reason: "typing goes to Reason; Enter next, Esc cancel"
        case .typedName: "type the name; Enter next, Esc cancel"
        case .cancel, .confirm: "r/Tab reason  y confirm  n/Esc cancel"
        }
    }

    /// `:timeline`: the last hour's events of every node merged, actions and firing alerts, newest
    /// at the bottom, with the summary; Esc closes it.
    static func timeline(_ state: AppState, _ b: inout ScreenBuffer) {
        // Every node's events and audit as polled so far (a node down now was read before): a
        // write through the fleet store is one line, with who made it and why.
        let inputs = state.fleet.nodes.map { Timeline.NodeInput(name: $0.name, events: $0.events, audit: $0.audit) }
        // Resolved alerts too: Prometheus's history when given (asked for while this shows), else
        // the alerts this console saw come and go.
        let monitor = state.fleet.monitor
        let t = Timeline.build(nodes: inputs, alerts: monitor.firing, since: state.now - 3600, alertRuns: monitor.timelineRuns,
                               prometheusError: monitor.alertHistoryError, instances: state.fleet.instanceNames)
        let top = 2
        let bottom = b.height - 1
        for y in top..<bottom { b.fill(row: y, role: .normal); b.put(String(repeating: " ", count: b.width), x: 0, y: y) }
        b.put(" Incident timeline, last hour (Esc closes; clawtop --timeline prints it with the operators' reasons)", x: 0, y: top, role: .title)
        var lines = t.entries.map { ("\(clock($0.time))  \($0.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \($0.text)",
                                     $0.kind == .sign || $0.kind == .alert ? Role.crit : $0.kind == .recovery ? .ok : $0.kind == .action ? .warn : .normal) }
        if lines.isEmpty { lines.append(("nothing happened in the last hour", .dim)) }
        // The summary's times in the entries' format.
        let summary = t.summaryText(stamp: clock).map { ($0, Role.dim) } + t.unread.map { ("NOT READ: \($0)", Role.crit) }
        let room = bottom - top - 2 - summary.count - 1
        var y = top + 2
        for (text, role) in lines.suffix(max(1, room)) {
            b.put(text, x: 1, y: y, role: role, maxWidth: b.width - 2)
            y += 1
        }
        y += 1
        for (text, role) in summary where y < bottom {
            b.put(text, x: 1, y: y, role: role, maxWidth: b.width - 2)
            y += 1
        }
    }

    /// The last drill's report over the screen: its phases, then its timeline (Esc closes it).
    static func drillReport(_ report: DrillReport, _ b: inout ScreenBuffer) {
        let top = 2
        let bottom = b.height - 1
        for y in top..<bottom { b.fill(row: y, role: .normal); b.put(String(repeating: " ", count: b.width), x: 0, y: y) }
        b.put(" Drill report (Esc closes; clawtop --drill prints it, --format markdown or json)", x: 0, y: top, role: .title)
        var y = top + 2
        for line in report.text.split(separator: "\n", omittingEmptySubsequences: false) where y < bottom {
            let text = String(line)
            let role: Role = text.contains("result: PASS") ? .ok : text.contains("result: FAIL") ? .crit : text.hasPrefix("drill:") ? .title : .normal
            b.put(text, x: 1, y: y, role: role, maxWidth: b.width - 2)
            y += 1
        }
    }
}
