import ClawAdminAPI
import ClawOperator
import HTTPTypes

extension AdminError {
    /// An operator command refused by the core, as the admin API answers it: 400 naming the
    /// field, 404 for a name the configuration does not know, 409 for a conflict.
    init(_ error: OperatorError) {
        let status: HTTPResponse.Status = switch error.kind {
        case .invalid: .badRequest
        case .notFound: .notFound
        case .conflict: .conflict
        }
        self.init(status: status, code: error.code, message: error.message, field: error.field)
    }
}

extension OperatorCommand {
    /// `apply` against this gateway's configuration, refused as an admin answer.
    func apply(to state: OperatorState, config: GatewayConfig, now: Double, reason: String?, actor: String? = nil) throws(AdminError) -> Change {
        do throws(OperatorError) {
            return try apply(to: state, config: config.operatorConfig, now: now, reason: reason, actor: actor)
        } catch {
            throw AdminError(error)
        }
    }

    static func route(_ alias: String, _ config: GatewayConfig) throws(AdminError) -> GatewayConfig.Route {
        do throws(OperatorError) {
            return try route(alias, config.operatorConfig)
        } catch {
            throw AdminError(error)
        }
    }
}

extension OperatorState {
    /// The routes in effect under this gateway's configuration.
    public func effectiveRoutes(config: GatewayConfig, providerIndex: [String: Int]) -> [ResolvedRoute] {
        effectiveRoutes(config: config.operatorConfig, providerIndex: providerIndex)
    }

    /// Drop what no longer matches this gateway's configuration.
    public mutating func prune(config: GatewayConfig) -> [String] { prune(config: config.operatorConfig) }
}
