import ClawAdminAPI
import Foundation

/// State and screen size in, cells out. Nothing here touches a terminal.
public enum View {
    public static let minimumWidth = 40
    public static let minimumHeight = 10

    public static func render(_ state: AppState) -> ScreenBuffer {
        if let wall = state.wall { return renderWall(state, wall) }
        var buffer = ScreenBuffer(width: state.width, height: state.height)
        buffer.cutMark = state.ascii ? "~" : "…"
        guard state.width >= minimumWidth, state.height >= minimumHeight else {
            let lines = ["Terminal too small:", "need \(minimumWidth)x\(minimumHeight),", "have \(state.width)x\(state.height).", "q quits."]
            for (y, line) in lines.enumerated() { buffer.put(line, x: 0, y: y, role: .warn) }
            return buffer
        }
        header(state, &buffer)
        tabs(state, &buffer)
        let area = (top: 2, bottom: state.height - 2)
        if let id = state.detail {
            detail(state, id, &buffer, area)
        } else if let key = state.requestDetail {
            requestDetail(state, key, &buffer, area)
        } else {
        switch state.pane {
        case .overview: overview(state, &buffer, area)
        case .providers: providers(state, &buffer, area)
        case .nodes: nodes(state, &buffer, area)
        case .routes: routes(state, &buffer, area)
        case .cost: cost(state, &buffer, area)
        case .events: events(state, &buffer, area)
        case .alerts: alerts(state, &buffer, area)
        case .clients: clients(state, &buffer, area)
        case .requests: requests(state, &buffer, area)
        }
        }
        footer(state, &buffer)
        if let message = state.message {
            buffer.put(message.text, x: 0, y: state.height - 2, role: message.role, maxWidth: state.width)
        }
        if let key = state.eventDetail, state.pane == .events { eventOverlay(state, key, &buffer) }
        if case .confirm(let dialog) = state.mode { confirm(dialog, &buffer) }
        if state.showHelp { help(state, &buffer) }
        if state.showTimeline { timeline(state, &buffer) }
        if let report = state.drillReport { drillReport(report, &buffer) }
        return buffer
    }

}
