"""``slaplug serve``: helpdesk webhooks in, SLA updates out within seconds.

* `slaplug.web.events`: the sans-I/O core. Size limit, connector lookup, signature, parsing,
  de-duplication through the store's inbox, and the answer's status and JSON body.
* `slaplug.web.inbox_writer`: one thread that stores the deliveries of the acknowledgement
  path in batches, one commit each.
* `slaplug.web.worker`: the worker that drains the inbox through `Sync.process`, the same
  pipeline as the sync job, on one thread (the only one that evaluates its rules).
* `slaplug.web.processes`: workers in processes of their own beside the web server (what
  ``slaplug serve`` runs), supervised: restarted if they die, stopped with the server.
* `slaplug.web.app`: the thin FastAPI adapter (`create_app`).
* `slaplug.web.server`: how ``slaplug serve`` runs uvicorn: header and body timeouts and a
  connection cap for slow clients.
* `slaplug.web.metrics`: Prometheus counters and histograms.

See docs/webhooks.md.
"""
