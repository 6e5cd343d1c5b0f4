/// The operator core (commands, routing, the admin endpoint table) the console shares with the gateway.
@_exported import ClawOperator
