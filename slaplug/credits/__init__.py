"""Service credits: compliance per contract, severity and period; tiers, caps, exclusions.

- `slaplug.credits.periods`: calendar months and quarters in a contract's zone, half-open.
- `slaplug.credits.model`: the contract ready to compute, its inputs, its results.
- `slaplug.credits.compute`: the pure computation, with a ``why`` for every figure.
- `slaplug.credits.source`: decided measures from stored snapshots under a rules pack.
- `slaplug.credits.freeze`: frozen closed periods and explicit recalculation.

See docs/concepts/service-credits.md.
"""
