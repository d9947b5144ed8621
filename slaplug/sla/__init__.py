"""Business time and SLA clocks."""
