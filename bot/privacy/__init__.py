"""Privacy and security by default (docs/security.md): redaction of stored text (``redact``, ``tracker_store``),
retention (``retention``), "delete my data" and the per-person report (``erase``), the rate limit and message
length at the door (``gate``, ``ratelimit``), and secrets (``secret_settings``)."""
