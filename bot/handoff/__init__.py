"""Human handoff to crisis teams: the escalation outbox and its delivery (webhook, Telegram group), the counsellor
console and its JSON API, pausing and resuming the bot, and relaying counsellors' replies. See docs/handoff.md."""
