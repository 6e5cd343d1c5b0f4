import ClawShared
import Foundation
import HTTPTypes
import Hummingbird

extension SimProvider {
    /// The tool calls for an OpenAI chat body that offers `tools`, when its last message is the user's
    /// and names `tool`; empty otherwise.
    static func openAIToolCalls(_ fields: [String: JSONValue], parallel: Bool) -> [SimToolCall] {
        guard let last = fields["messages"]?.arrayValue?.last, last["role"]?.stringValue == "user" else { return [] }
        let text: String = switch last["content"] {
        case .string(let s)?: s
        case .array(let parts)?: parts.compactMap { $0["text"]?.stringValue }.joined(separator: " ")
        default: ""
        }
        guard SimTools.asks(text) else { return [] }
        let tools = (fields["tools"]?.arrayValue ?? []).compactMap { tool -> (name: String, schema: JSONValue?)? in
            tool["function"]?["name"]?.stringValue.map { ($0, tool["function"]?["parameters"]) }
        }
        return SimTools.calls(tools, parallel: parallel)
    }

    /// An OpenAI answer that calls tools: `message.tool_calls` and finish reason `tool_calls`; when
    /// streaming, each call's first delta carries its index, id, type and name, then its arguments
    /// follow in three pieces.
    func openAIToolAnswer(
        _ calls: [SimToolCall], answerID: String, model: String, created: JSONValue, usage: JSONValue,
        streaming: Bool, includeUsage: Bool, interval: Double, cut: Bool
    ) -> Response {
        let callIDs = calls.indices.map { "call_\(answerID.replacingOccurrences(of: "chatcmpl-", with: ""))_\($0)" }
        if !streaming {
            let toolCalls: [JSONValue] = calls.enumerated().map { index, call in
                ["id": .string(callIDs[index]), "type": "function", "function": ["name": .string(call.name), "arguments": .string(call.argumentsText)]]
            }
            let answer: JSONValue = [
                "id": .string(answerID), "object": "chat.completion", "created": created, "model": .string(model),
                "system_fingerprint": .string("clawsim-\(id)"),
                "choices": [[
                    "index": 0, "message": ["role": "assistant", "content": .null, "tool_calls": .array(toolCalls)],
                    "finish_reason": "tool_calls",
                ]],
                "usage": usage,
            ]
            return Self.json(answer.encoded(sorted: true), status: .ok)
        }
        let providerID = id
        func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> String {
            let event: JSONValue = [
                "id": .string(answerID), "object": "chat.completion.chunk", "created": created, "model": .string(model),
                "system_fingerprint": .string("clawsim-\(providerID)"),
                "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
            ]
            return "data: " + String(decoding: event.encoded(sorted: true), as: UTF8.self) + "\n\n"
        }
        var events = [SimEvent(text: chunk(["role": "assistant", "content": .null]))]
        for (index, call) in calls.enumerated() {
            let first: JSONValue = [
                "index": JSONValue(index), "id": .string(callIDs[index]), "type": "function",
                "function": ["name": .string(call.name), "arguments": ""],
            ]
            events.append(SimEvent(text: chunk(["tool_calls": [first]]), paced: true))
            for piece in SimTools.pieces(call.argumentsText) {
                events.append(SimEvent(text: chunk(["tool_calls": [["index": JSONValue(index), "function": ["arguments": .string(piece)]]]]), paced: true))
            }
        }
        events.append(SimEvent(text: chunk([:], finish: "tool_calls")))
        if includeUsage {
            let event: JSONValue = [
                "id": .string(answerID), "object": "chat.completion.chunk", "created": created, "model": .string(model),
                "choices": [], "usage": usage,
            ]
            events.append(SimEvent(text: "data: " + String(decoding: event.encoded(sorted: true), as: UTF8.self) + "\n\n"))
        }
        events.append(SimEvent(text: "data: [DONE]\n\n"))
        return Self.stream(events, interval: interval, cut: cut)
    }
}
