import Foundation

/// How one listener's TLS reload went.
public struct TLSReload: Sendable {
    public var listener: String
    /// The certificate in force after it (the new one, or on failure the one kept).
    public var subject: String
    public var notAfter: Double
    /// nil: the new files are in force.
    public var error: String?
}

extension Gateway {
    /// Reload each listener's TLS, log how it went and count it in `/metrics`.
    public func reloadTLS() -> [TLSReload] {
        let listeners: [ServerTLS] = [dataTLS, adminTLS].compactMap { $0 }
        return listeners.map { (tls: ServerTLS) -> TLSReload in
            do throws(ConfigError) {
                let loaded = try tls.reload()
                metrics.tlsReloaded(listener: tls.listener, ok: true)
                logger.info("TLS reloaded: new connections get the new certificate", metadata: [
                    "listener": .string(tls.listener), "subject": .string(loaded.subject),
                    "not_after": .string(Date(timeIntervalSince1970: loaded.notAfter).ISO8601Format()),
                ])
                return TLSReload(listener: tls.listener, subject: loaded.subject, notAfter: loaded.notAfter)
            } catch {
                let kept = tls.loaded
                metrics.tlsReloaded(listener: tls.listener, ok: false)
                logger.error("TLS reload refused; the certificate in force stays", metadata: [
                    "listener": .string(tls.listener), "error": .string(error.problems.map(\.description).joined(separator: "; ")),
                    "subject": .string(kept.subject),
                ])
                return TLSReload(listener: tls.listener, subject: kept.subject, notAfter: kept.notAfter,
                                 error: error.problems.map(\.description).joined(separator: "; "))
            }
        }
    }
}
