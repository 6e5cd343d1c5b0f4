/// The operator core (state, commands, routing) is part of the gateway's API: its types are
/// seen through `import ClawGateKit` as they were when they lived here.
@_exported import ClawOperator
