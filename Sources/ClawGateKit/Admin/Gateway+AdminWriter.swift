import ClawAdminAPI
import ClawShared
import Foundation
import Hummingbird
import Logging

extension Gateway {
    /// Commit an operator command: check the revision, apply, persist, put in effect, audit and
    /// emit its events. It fsyncs, so it runs on the persister's thread (one write at a time, in
    /// order), never on an event loop and never holding a lock across the disk.
    func commit(_ command: OperatorCommand, caller: AdminCaller, expected: Int?, reason: String?) async throws(AdminError) -> Written {
        if let fleetStore { return try await commit(command, to: fleetStore, caller: caller, expected: expected, reason: reason) }
        let result: Result<Written, AdminError>
        do {
            result = try await persister.run { self.commitInOrder(command, caller: caller, expected: expected, reason: reason) }
        } catch {
            throw AdminError(status: .serviceUnavailable, code: "shutting_down", message: "The node is shutting down; the change was not made.")
        }
        return try result.get()
    }

    /// One file-store write, on the persister's thread: the writes before it are on disk and in
    /// effect, none runs beside it, so the audit log's lock is taken only to read and update it
    /// in memory.
    private func commitInOrder(_ command: OperatorCommand, caller: AdminCaller, expected: Int?, reason: String?) -> Result<Written, AdminError> {
        let current = state.operatorState
        // A request that is wrong in itself is refused as such (400/404) before its precondition (412).
        let change: OperatorCommand.Change
        do throws(AdminError) {
            change = try command.apply(to: current, config: config, now: state.wallClock(), reason: reason, actor: caller.name)
        } catch {
            return .failure(error)
        }
        if let expected, expected != current.revision { return .failure(.stale(expected: expected, current: current.revision)) }
        var next = change.next
        if next == current { return .success(Written(revision: current.revision, changed: false, state: current.document)) }
        next.revision = current.revision + 1
        // The audit record goes first: a crash between the two leaves a record of a change not
        // in force (said so at the next start), never a change in force with no record.
        let entry = auditEntry(command, sequence: writes.withLock { $0.nextSequence }, before: current, after: next, caller: caller, reason: reason)
        do {
            try store.append(entry)
        } catch {
            logger.error("cannot append to the audit log; the write is refused", metadata: ["error": .string("\(error)")])
            return .failure(AdminError(status: .internalServerError, code: "audit_failed",
                                       message: "The change could not be audited, so it was not made: \(error)"))
        }
        do {
            try store.save(next)
        } catch {
            logger.error("cannot persist operator state; the write is refused", metadata: ["error": .string("\(error)")])
            return .failure(AdminError(status: .internalServerError, code: "persist_failed",
                                       message: "The change could not be saved, so it was not made (its audit record says so): \(error)"))
        }
        state.apply(next, now: clock())
        writes.withLock { audit in
            audit.nextSequence += 1
            audit.keep(entry)
        }
        announce(entry, change: change, caller: caller)
        return .success(Written(revision: next.revision, changed: true, state: next.document))
    }

    /// With a fleet store: one compare-and-swap transaction of the state and its audit record. If
    /// the store moved on since this node last applied it (and no If-Match pinned a revision), the
    /// command is applied again to the store's state. A store that does not answer leaves the outcome
    /// unknown, so the node reads again to say what happened; it never writes locally alone.
    private func commit(_ command: OperatorCommand, to fleetStore: FleetStore, caller: AdminCaller, expected: Int?,
                        reason: String?) async throws(AdminError) -> Written {
        let operation = UUID().uuidString
        var base = state.operatorState
        for _ in 0..<5 {
            let change = try command.apply(to: base, config: config, now: state.wallClock(), reason: reason, actor: caller.name)
            if let expected, expected != base.revision { throw AdminError.stale(expected: expected, current: base.revision) }
            if change.next.sameContent(as: base) {
                return Written(revision: base.revision, changed: false, state: base.seen(by: config.nodeID).document)
            }
            var next = change.next
            next.revision = base.revision + 1
            next.operation = operation
            let entry = auditEntry(command, sequence: next.revision, before: base, after: next, caller: caller, reason: reason)
            let outcome: (succeeded: Bool, current: FleetStore.Stored?)
            do throws(EtcdError) {
                outcome = try await fleetStore.swap(next: next, version: base.revision, audit: entry)
                fleetStore.noteReachable(true)
            } catch {
                fleetStore.noteReachable(false, error: error.description)
                // The write may still be applied (a timeout is "unknown", not "failed"): look.
                // A member that refused it before proposing it ("no leader") or that could not be
                // reached leaves nothing to look for, so the refusal comes at once.
                if error.mayHaveApplied, let (stored, _) = try? await fleetStore.read(), let stored, stored.state.operation == operation {
                    applyCommitted(stored.state, at: stored.place, entry: entry, caller: caller, change: change)
                    await checkStoreAudit(stored)
                    return Written(revision: stored.state.revision, changed: true, state: stored.state.seen(by: config.nodeID).document)
                }
                throw AdminError(status: .serviceUnavailable, code: "store_unavailable",
                                 message: "The fleet store did not answer (\(error.description)). The change is not in effect; a store that was only slow may still apply it when it recovers, so read the state or the audit before trying again. No node changes operator state alone.")
            }
            if outcome.succeeded {
                applyCommitted(next, at: outcome.current?.place, entry: entry, caller: caller, change: change)
                if let current = outcome.current { await checkStoreAudit(FleetStore.Stored(state: next, place: current.place, keyVersion: current.keyVersion)) }
                return Written(revision: next.revision, changed: true, state: next.seen(by: config.nodeID).document)
            }
            // Someone else wrote first: their state is the base now (and this node applies it). A
            // store that went backwards (no state at all, or an older one) is not built on: that
            // would silently undo newer operator state.
            guard let fromStore = outcome.current, fromStore.state.revision >= base.revision else {
                throw AdminError(status: .conflict, code: "store_wiped",
                                 message: "The fleet store's state is at revision \(outcome.current?.state.revision ?? 0), older than the \(base.revision) this node applied: was the store wiped or restored? Restore it (clawgate state export/import) before writing.")
            }
            applyFromStore(fromStore)
            await checkStoreAudit(fromStore)
            let current = fromStore.state
            if let expected, expected != current.revision { throw AdminError.stale(expected: expected, current: current.revision) }
            base = current.seen(by: config.nodeID)
        }
        throw AdminError(status: .serviceUnavailable, code: "store_busy", message: "The fleet state kept changing under this write; try again.")
    }

    /// A write that the fleet store took: in effect here at once (unless the watch brought it, or
    /// a later one, first), in the local audit and events.
    private func applyCommitted(_ next: OperatorState, at place: FleetStore.Place?, entry: AuditEntry, caller: AdminCaller,
                                change: OperatorCommand.Change) {
        if let fleetStore, let place {
            fleetStore.ifNews(place) { putInEffect(next.seen(by: config.nodeID)) }
        } else {
            putInEffect(next.seen(by: config.nodeID))
        }
        writes.withLock { $0.keep(entry) }
        announce(entry, change: change, caller: caller)
    }

    func auditEntry(_ command: OperatorCommand, sequence: Int, before: OperatorState, after: OperatorState, caller: AdminCaller,
                    reason: String?) -> AuditEntry {
        AuditEntry(sequence: sequence, time: Date().timeIntervalSince1970, actor: caller.name, action: command.action,
                   target: command.target(node: config.nodeID), before: command.auditView(before, node: config.nodeID),
                   after: command.auditView(after, node: config.nodeID), reason: reason, revision: after.revision,
                   address: caller.address, certificate: caller.certificate)
    }

    /// A write in effect: its events (who did what, and what follows from it) and a log line.
    func announce(_ entry: AuditEntry, change: OperatorCommand.Change, caller: AdminCaller) {
        state.appendEvent(kind: .operatorAction, subject: entry.target, detail: "\(entry.action) by \(caller.name)" + (entry.reason.map { ": \($0)" } ?? ""))
        for note in change.events { state.appendEvent(kind: note.kind, subject: note.subject, detail: note.detail) }
        var metadata: Logger.Metadata = ["actor": .string(caller.name), "action": .string(entry.action), "target": .string(entry.target),
                                         "revision": .stringConvertible(entry.revision), "store": .string(fleetStore == nil ? "file" : "etcd")]
        if let address = caller.address { metadata["address"] = .string(address) }
        if let certificate = caller.certificate { metadata["certificate"] = .string(certificate) }
        logger.info("operator action", metadata: metadata)
    }
}
