import ClawAdminAPI
import ClawShared
import Foundation
import Hummingbird
import NIOPosix

extension Gateway {
    /// Commit an operator command: check the revision, apply, persist, put in effect, audit and
    /// emit its events, under the write lock. It fsyncs, so it runs on NIO's blocking thread pool,
    /// never on an event loop.
    func commit(_ command: OperatorCommand, token: AdminAuth.Token, expected: Int?, reason: String?) async throws(AdminError) -> Written {
        let result: Result<Written, AdminError>
        do {
            result = try await NIOThreadPool.singleton.runIfActive { self.commitLocked(command, token: token, expected: expected, reason: reason) }
        } catch {
            throw AdminError(status: .serviceUnavailable, code: "shutting_down", message: "The node is shutting down; the change was not made.")
        }
        return try result.get()
    }

    private func commitLocked(_ command: OperatorCommand, token: AdminAuth.Token, expected: Int?, reason: String?) -> Result<Written, AdminError> {
        writes.withLock { audit -> Result<Written, AdminError> in
            let current = state.operatorState
            let target = command.target(node: config.nodeID)
            // A request that is wrong in itself is refused as such (400/404) before its precondition (412).
            let change: OperatorCommand.Change
            do throws(AdminError) {
                change = try command.apply(to: current, config: config, now: Date().timeIntervalSince1970, reason: reason)
            } catch {
                return .failure(error)
            }
            if let expected, expected != current.revision { return .failure(.stale(expected: expected, current: current.revision)) }
            var next = change.next
            if next == current { return .success(Written(revision: current.revision, changed: false, state: current.document)) }
            next.revision = current.revision + 1
            do {
                try store.save(next)
            } catch {
                logger.error("cannot persist operator state; the write is refused", metadata: ["error": .string("\(error)")])
                return .failure(AdminError(status: .internalServerError, code: "persist_failed",
                                           message: "The change could not be saved, so it was not made: \(error)"))
            }
            state.apply(next)
            let entry = AuditEntry(sequence: audit.nextSequence, time: Date().timeIntervalSince1970, actor: token.name, action: command.action,
                                   target: target, before: command.auditView(current, node: config.nodeID),
                                   after: command.auditView(next, node: config.nodeID), reason: reason, revision: next.revision)
            audit.nextSequence += 1
            audit.entries.append(entry)
            if audit.entries.count > 1000 { audit.entries.removeFirst(audit.entries.count - 1000) }
            do {
                try store.append(entry)
            } catch {
                logger.error("cannot append to the audit log", metadata: ["error": .string("\(error)")])
            }
            state.appendEvent(kind: .operatorAction, subject: target, detail: "\(command.action) by \(token.name)" + (reason.map { ": \($0)" } ?? ""))
            for note in change.events { state.appendEvent(kind: note.kind, subject: note.subject, detail: note.detail) }
            logger.info("operator action", metadata: ["actor": .string(token.name), "action": .string(command.action), "target": .string(target),
                                                      "revision": .stringConvertible(next.revision)])
            return .success(Written(revision: next.revision, changed: true, state: next.document))
        }
    }
}
