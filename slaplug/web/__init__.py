"""``slaplug serve``: helpdesk webhooks in, SLA updates out within seconds.

* `slaplug.web.events`: the sans-I/O core. Size limit, connector lookup, signature, parsing,
  de-duplication through the store's inbox, and the answer's status and JSON body.
* `slaplug.web.worker`: one background thread that drains the inbox through `Sync.process`,
  the same pipeline as the sync job; it is also the only thread that evaluates rules.
* `slaplug.web.app`: the thin FastAPI adapter (`create_app`).
* `slaplug.web.metrics`: Prometheus counters and histograms.

See docs/webhooks.md.
"""
