import ClawAdminAPI
import ClawShared
import Foundation
import Logging
import ServiceLifecycle

/// Every node converges on the fleet store by itself: read the state, then watch it from the next
/// revision and apply each new version; on a cancelled watch (compaction), an error, the end of
/// the stream or a stream silent for longer than `store.watch_silence`, read again after a
/// jittered backoff.
struct FleetSync: Service {
    let gateway: Gateway

    func run() async throws {
        guard let store = gateway.fleetStore else {
            try? await gracefulShutdown()
            return
        }
        try await cancelWhenGracefulShutdown {
            var backoff = 0.1
            while !Task.isCancelled {
                do throws(EtcdError) {
                    let (stored, revision) = try await store.read()
                    store.noteReachable(true)
                    backoff = 0.1
                    if let stored {
                        gateway.applyFromStore(stored)
                        await gateway.checkStoreAudit(stored)
                    } else {
                        gateway.noteStoreEmpty()
                    }
                    do {
                        let silence = Duration.milliseconds(Int(gateway.config.storeWatchSilence * 1000))
                        for try await kv in store.client.watch(store.stateKey, from: revision + 1, silence: silence) {
                            if kv.version == 0 {
                                gateway.noteStoreEmpty()
                                continue
                            }
                            guard let next = store.decode(kv, cluster: store.cluster) else {
                                gateway.logger.error("the fleet store holds a state this node cannot read; ignored",
                                                     metadata: ["key": .string(kv.key), "version": .stringConvertible(kv.version)])
                                continue
                            }
                            gateway.applyFromStore(next)
                            await gateway.checkStoreAudit(next)
                        }
                    } catch {
                        gateway.logger.warning("fleet store watch ended; reading again", metadata: ["error": .string("\(error)")])
                    }
                } catch {
                    store.noteReachable(false, error: error.description)
                    gateway.logger.warning("fleet store unreachable; serving the last applied state",
                                           metadata: ["error": .string(error.description)])
                }
                try await Task.sleep(for: .milliseconds(Int(backoff * 1000 * Double.random(in: 0.5...1.5))))
                backoff = min(backoff * 2, 2)
            }
        }
    }
}

extension Gateway {
    /// One read of the fleet store at start; nothing happens without one, or when it does not answer
    /// (then the cached state serves; with no cache and `without_cache: refuse`, the start is refused).
    func syncFromStore() async throws(StoreStartError) {
        guard let fleetStore else { return }
        do throws(EtcdError) {
            let (stored, _) = try await fleetStore.read()
            fleetStore.noteReachable(true)
            if let stored {
                applyFromStore(stored)
                await checkStoreAudit(stored)
            } else {
                noteStoreEmpty()
            }
        } catch {
            fleetStore.noteReachable(false, error: error.description)
            let cached = (try? store.load()) ?? nil
            if cached == nil, config.refuseStartWithoutStore {
                throw StoreStartError(description: "the fleet store does not answer (\(error.description)) and this node has no cached operator state; "
                                      + "refusing to start (store.without_cache: refuse). Bring etcd back, or set without_cache: serve to start with the configured routing.")
            }
            logger.warning(cached == nil ? "the fleet store does not answer and nothing is cached; starting with the configured routing"
                                         : "the fleet store does not answer; starting from the cached operator state",
                           metadata: ["error": .string(error.description)])
        }
    }

    /// The fleet store holds no operator state. Before any write that is a new fleet; after this
    /// node applied one it is a wiped store (or a deleted key): said in the store's status and in
    /// one event, until a state is there again (`clawgate state import` restores it).
    func noteStoreEmpty() {
        guard let fleetStore else { return }
        let applied = state.operatorState.revision
        guard applied > 0 else { return }
        let first = fleetStore.health.withLock { health in
            defer { health.emptied = true }
            return !health.emptied
        }
        guard first else { return }
        logger.error("the fleet store holds no operator state, but this node applied revision \(applied): was it wiped?")
        state.appendEvent(kind: .operatorAction, subject: "fleet",
                          detail: "the fleet store holds no operator state (this node applied revision \(applied)): wiped? Restore it with clawgate state import; the node keeps its state")
    }

    /// Put a state from the fleet store in effect, unless this node has seen it or a later one
    /// already (its own write coming back through the watch, say). A version that goes backwards in
    /// a new history (a wiped or restored store) is reported loudly and not obeyed.
    func applyFromStore(_ fromStore: FleetStore.Stored) {
        fleetStore?.health.withLock { $0.emptied = false }
        fleetStore?.ifNews(fromStore.place) {
            let stored = fromStore.state
            let current = state.operatorState
            if stored.revision == current.revision, stored.sameContent(as: current.withNodeDrain(of: stored)) { return }
            if stored.revision < current.revision {
                logger.error("the fleet store's state is older than this node's; not applied (was the store wiped or restored?)",
                             metadata: ["store_version": .stringConvertible(stored.revision), "applied": .stringConvertible(current.revision)])
                state.appendEvent(kind: .operatorAction, subject: "fleet",
                                  detail: "the fleet store went back to revision \(stored.revision) (this node applied \(current.revision)): not obeyed; was it wiped or restored?")
                return
            }
            putInEffect(stored.seen(by: config.nodeID))
            state.appendEvent(kind: .operatorAction, subject: "fleet", detail: "applied revision \(stored.revision) from the fleet store")
            logger.info("applied the fleet state", metadata: ["revision": .stringConvertible(stored.revision)])
        }
    }

    /// Flag the fleet state's revisions that no node's admin API wrote (`FleetStore.unaudited`):
    /// each new one is an event and a loud log line, and the snapshot lists them until an operator
    /// acknowledges them. The state itself is in effect either way: the store is the fleet's truth.
    func checkStoreAudit(_ stored: FleetStore.Stored) async {
        guard let fleetStore else { return }
        let found: [Int]
        do throws(EtcdError) {
            found = try await fleetStore.unaudited(stored)
        } catch {
            logger.warning("cannot read the fleet store's audit records to check the state's revision",
                           metadata: ["revision": .stringConvertible(stored.state.revision), "error": .string(error.description)])
            return
        }
        let (new, cleared) = fleetStore.health.withLock { health -> ([Int], Bool) in
            if let last = health.auditChecked, last.cluster == stored.place.cluster, last.created == stored.place.created,
               stored.place.modified < last.modified { return ([], false) }
            health.auditChecked = stored.place
            let new = found.filter { !health.unaudited.contains($0) }
            let cleared = !health.unaudited.isEmpty && found.isEmpty
            health.unaudited = found
            return (new, cleared)
        }
        for revision in new {
            logger.error("the fleet state's revision was written straight into etcd, not through a node's admin API (no audit record); in effect, flagged until acknowledged",
                         metadata: ["revision": .stringConvertible(revision), "key": .string(fleetStore.stateKey)])
            state.appendEvent(kind: .operatorAction, subject: "fleet",
                              detail: "revision \(revision) of the fleet state was written straight into etcd (\(fleetStore.stateKey)), not through a node's admin API: no audit record says who or why. It is in effect; acknowledge it with POST /admin/v1/store/acknowledge")
        }
        if cleared { logger.info("the fleet state's unaudited revisions are acknowledged", metadata: ["revision": .stringConvertible(stored.state.revision)]) }
    }

    /// A fleet state in effect on this node (written here or read from the store): applied,
    /// remembered as applied, and cached on disk for a start while etcd is down by the persister
    /// (its fsync neither on this thread, an event loop, nor under the store's lock it is called in).
    func putInEffect(_ local: OperatorState) {
        state.apply(local, now: clock())
        fleetStore?.health.withLock { $0.applied = local.revision }
        persister.cache(local, in: store, logger: logger)
    }
}

extension OperatorState {
    /// This state with `other`'s node drain fields, to compare the fleet's content only.
    func withNodeDrain(of other: OperatorState) -> OperatorState {
        var copy = self
        copy.nodeDrain = other.nodeDrain
        return copy
    }
}

/// A node that may not start: the fleet store does not answer and it has nothing cached.
public struct StoreStartError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
