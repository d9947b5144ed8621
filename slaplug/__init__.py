"""slaplug: an SLA engine that plugs into the helpdesks teams already run."""
