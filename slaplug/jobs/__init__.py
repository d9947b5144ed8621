"""The work as jobs: one lane per connector, the same functions whatever runs them.

Four job functions (`slaplug.jobs.units`) cover everything a running install does:

* ``pull(connector)``: read the changed tickets from the connector's cursor, evaluate them,
  deliver what they planned. The only job that writes the connector's cursor.
* ``drain(connector)``: process the connector's stored webhook deliveries, coalesced (one
  job takes every delivery waiting), and deliver what they planned.
* ``deliver(connector)``: apply the connector's due outbox actions, under its request budget.
* ``due(bucket)``: re-evaluate, from snapshots, the tickets whose next threshold passed in
  one bucket of the due index (rows claimed with a lease).

Two engines run them: `slaplug.jobs.local.LocalExecutor` in this process (the embedded
default: SQLite, nothing to install), and procrastinate (`slaplug.jobs.engine`, the
``slaplug[distributed]`` extra): jobs queued in the store's PostgreSQL, run by
``slaplug worker`` processes, one running and at most one waiting job per lane.
"""

from slaplug.jobs.units import JOBS, JobContext, deliver, drain, due, lanes, pull

__all__ = ["JOBS", "JobContext", "deliver", "drain", "due", "lanes", "pull"]
