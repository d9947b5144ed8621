"""Declarative SLA policies and escalations: YAML, schema, compiler, engines."""
