"""No message lost, none answered twice: the durable inbox, the outbox and the worker both platforms share.

1. The webhook verifies the request, then ``ChannelStore.accept`` stores each message with the platform's id
   (unique) *before* the webhook answers 200. A redelivery finds the id and is acknowledged without a second row.
2. ``ChannelWorker`` (an asyncio task in the Rasa server process) claims pending messages with a lease, hands each
   to Rasa (``on_new_message``) with a collecting output channel, and in one transaction writes the replies to the
   outbox and marks the message done (its text is cleared then). Messages of one user are handled in order.
   A message left pending or claimed by a process that died is replayed: pending ones at once after a restart,
   claimed ones when their lease runs out.
3. The worker sends outbox rows in order per user through the platform (``channels.common.Platform``), honouring
   rate limits (HTTP 429 ``retry_after``) and retrying transient errors with exponential backoff.

Delivery to the platform is at-least-once at the last step: a crash after the platform accepted a call but before
the row is marked sent sends that one call again (neither API takes an idempotency key).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Iterable, Optional

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.channel_models import ChannelAddress, InboxMessage, OutboxMessage
from bot.store.db import session_factory
from channels.common import Inbound, Platform, Recipient, Request, SendResult, backoff, quiet_http_logs

logger = logging.getLogger(__name__)
Handler = Callable[[UserMessage], Awaitable[Any]]
# (user id, text, metadata) → (the text for Rasa, or None to drop the message; notices to send first)
Gate = Callable[[str, str, dict], Awaitable[tuple[Optional[str], list[dict[str, Any]]]]]


def utcnow() -> datetime:
    """Timezone-aware now (UTC)."""
    return datetime.now(timezone.utc)


def aware(value: Optional[datetime]) -> Optional[datetime]:
    """SQLite returns naive datetimes (stored as UTC): make them aware."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class AddressCipher:
    """Encrypts reply addresses with a Fernet key derived (HKDF-SHA256) from a setting."""

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"amani channel addresses").derive(
            secret.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, address: str) -> bytes:
        """The address as a Fernet token."""
        return self._fernet.encrypt(address.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        """The address back; raises ``InvalidToken`` if the key changed."""
        return self._fernet.decrypt(bytes(token)).decode("utf-8")


@dataclass(frozen=True)
class Claimed:
    """An inbox row claimed for processing."""

    id: int
    platform_message_id: str
    user_id: str
    text: str
    meta: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Outgoing:
    """An outbox row due to be sent."""

    id: int
    user_id: str
    method: str
    body: dict[str, Any]
    attempts: int


_SQLITE_WRITE_LOCKS: dict[str, threading.Lock] = {}


def _write_lock(url: str) -> Any:
    """SQLite has one writer at a time, and a writer that finds the file locked sleeps in growing steps (1, 2, 5,
    10... ms): queueing this process's writers on a lock instead keeps the webhook's acknowledgement fast."""
    if not url.startswith("sqlite"):
        return contextlib.nullcontext()
    return _SQLITE_WRITE_LOCKS.setdefault(url, threading.Lock())


class ChannelStore:
    """The inbox, outbox and addresses of one platform, on the project database."""

    def __init__(self, url: str, platform: str, cipher: AddressCipher) -> None:
        self.url = url
        self.platform = platform
        self.cipher = cipher
        self._sessions: Optional[sessionmaker] = None

    def _session(self) -> Session:
        if self._sessions is None:
            self._sessions = session_factory(self.url)
        return self._sessions()

    def _write(self, work: Callable[[Session], Any]) -> Any:
        with _write_lock(self.url):
            session = self._session()
            try:
                result = work(session)
                session.commit()
                return result
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    # --- inbox ---
    def accept(self, inbound: Inbound) -> bool:
        """Store a verified message (and its user's encrypted address); False if its id is already stored."""
        for attempt in range(3):
            try:
                return self._write(lambda s: self._accept(s, inbound))
            except IntegrityError:
                # the id was stored meanwhile (a concurrent redelivery) or the user's address row was created by
                # another request: look again
                if attempt == 2:
                    raise
        return False  # pragma: no cover

    def _accept(self, session: Session, inbound: Inbound) -> bool:
        known = session.execute(
            select(InboxMessage.id).where(
                InboxMessage.platform == self.platform,
                InboxMessage.platform_message_id == inbound.platform_message_id,
            )
        ).first()
        if known is not None:
            return False
        self._touch_address(session, inbound.user_id, inbound.address, inbound.sent_at)
        now = utcnow()
        session.add(InboxMessage(
            platform=self.platform, platform_message_id=inbound.platform_message_id, user_id=inbound.user_id,
            text=inbound.text.replace("\x00", ""),  # PostgreSQL text cannot hold NUL
            meta=dict(inbound.meta), sent_at=inbound.sent_at, received_at=now, status="pending",
            attempts=0, next_attempt_at=now,
        ))
        session.flush()
        return True

    def _touch_address(self, session: Session, user_id: str, address: str, sent_at: Optional[datetime]) -> None:
        row = session.get(ChannelAddress, (self.platform, user_id))
        if row is None:
            session.add(ChannelAddress(
                platform=self.platform, user_id=user_id, address=self.cipher.encrypt(address),
                last_inbound_at=sent_at, created_at=utcnow(), updated_at=utcnow(),
            ))
            session.flush()
        elif sent_at is not None and (row.last_inbound_at is None or sent_at > aware(row.last_inbound_at)):
            row.last_inbound_at = sent_at

    def claim(self, limit: int, lease_seconds: float, busy_users: Iterable[str] = ()) -> list[Claimed]:
        """Claim due messages, in order per user; a user with an earlier unfinished message (or in ``busy_users``)
        waits. Rows claimed by a worker whose lease ran out are claimed again."""
        now = utcnow()
        blocked = set(busy_users)

        def work(session: Session) -> list[Claimed]:
            rows = session.execute(
                select(InboxMessage.id, InboxMessage.user_id, InboxMessage.status, InboxMessage.next_attempt_at,
                       InboxMessage.lease_until)
                .where(InboxMessage.platform == self.platform, InboxMessage.status.in_(("pending", "processing")))
                .order_by(InboxMessage.id)
                .limit(limit * 10)
            ).all()
            chosen: list[int] = []
            for row in rows:
                if row.user_id in blocked:
                    continue
                expired = row.status == "processing" and aware(row.lease_until) < now
                due = expired or (row.status == "pending" and aware(row.next_attempt_at) <= now)
                if not due:
                    blocked.add(row.user_id)
                    continue
                chosen.append(row.id)
                if len(chosen) >= limit:
                    break
            claimed: list[int] = []
            claimable = or_(
                and_(InboxMessage.status == "pending", InboxMessage.next_attempt_at <= now),
                and_(InboxMessage.status == "processing", InboxMessage.lease_until < now),
            )
            for row_id in chosen:
                result = session.execute(
                    update(InboxMessage)
                    .where(InboxMessage.id == row_id, claimable)
                    .values(status="processing", lease_until=now + timedelta(seconds=lease_seconds),
                            attempts=InboxMessage.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    claimed.append(row_id)
            if not claimed:
                return []
            found = session.execute(select(InboxMessage).where(InboxMessage.id.in_(claimed))).scalars().all()
            by_id = {m.id: m for m in found}
            return [
                Claimed(m.id, m.platform_message_id, m.user_id, m.text or "", dict(m.meta or {}), m.attempts)
                for m in (by_id[i] for i in claimed)
            ]

        return self._write(work)

    def complete(self, inbox_id: int, user_id: str, requests: list[Request]) -> None:
        """In one transaction: the replies into the outbox, the message done and its text cleared."""
        now = utcnow()

        def work(session: Session) -> None:
            for request in requests:
                session.add(OutboxMessage(
                    platform=self.platform, user_id=user_id, inbox_id=inbox_id, method=request.method,
                    body=request.body, status="pending", attempts=0, next_attempt_at=now, created_at=now,
                ))
            session.execute(
                update(InboxMessage).where(InboxMessage.id == inbox_id)
                .values(status="done", text=None, processed_at=now, lease_until=None, error=None)
            )

        self._write(work)

    def retry_inbound(self, inbox_id: int, error: str, delay: float) -> None:
        """Processing failed: try again after ``delay`` seconds."""
        self._write(lambda s: s.execute(
            update(InboxMessage).where(InboxMessage.id == inbox_id).values(
                status="pending", lease_until=None, error=error[:200],
                next_attempt_at=utcnow() + timedelta(seconds=delay),
            )
        ))

    def give_up_inbound(self, inbox_id: int, error: str) -> None:
        """Processing failed too often: the message is failed (its text cleared)."""
        self._write(lambda s: s.execute(
            update(InboxMessage).where(InboxMessage.id == inbox_id).values(
                status="failed", text=None, lease_until=None, error=error[:200], processed_at=utcnow(),
            )
        ))

    def release(self, inbox_ids: Iterable[int]) -> None:
        """Give claimed messages back (shutdown): they are pending again at once."""
        ids = list(inbox_ids)
        if ids:
            self._write(lambda s: s.execute(
                update(InboxMessage).where(InboxMessage.id.in_(ids), InboxMessage.status == "processing")
                .values(status="pending", lease_until=None, attempts=InboxMessage.attempts - 1)
                .execution_options(synchronize_session=False)
            ))

    # --- outbox ---
    def enqueue(self, user_id: str, requests: list[Request]) -> None:
        """Queue API calls for ``user_id`` outside a turn (proactive messages)."""
        now = utcnow()

        def work(session: Session) -> None:
            for request in requests:
                session.add(OutboxMessage(
                    platform=self.platform, user_id=user_id, method=request.method, body=request.body,
                    status="pending", attempts=0, next_attempt_at=now, created_at=now,
                ))

        self._write(work)

    def due_outgoing(self, limit: int, busy_users: Iterable[str] = ()) -> dict[str, list[Outgoing]]:
        """Due rows grouped by user, in order; a user's rows wait behind their first pending row that is not due."""
        now = utcnow()
        blocked = set(busy_users)
        session = self._session()
        try:
            rows = session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.platform == self.platform, OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).scalars().all()
            groups: dict[str, list[Outgoing]] = {}
            for row in rows:
                if row.user_id in blocked:
                    continue
                if aware(row.next_attempt_at) > now:
                    blocked.add(row.user_id)
                    continue
                groups.setdefault(row.user_id, []).append(
                    Outgoing(row.id, row.user_id, row.method, dict(row.body or {}), row.attempts)
                )
            return groups
        finally:
            session.close()

    def recipient(self, user_id: str) -> Optional[Recipient]:
        """The user's decrypted address, or None if unknown (or undecryptable: the key changed)."""
        session = self._session()
        try:
            row = session.get(ChannelAddress, (self.platform, user_id))
            if row is None:
                return None
            try:
                address = self.cipher.decrypt(row.address)
            except InvalidToken:
                logger.error("%s: a stored address cannot be decrypted (was the address key changed?)",
                             self.platform)
                return None
            return Recipient(user_id, address, aware(row.last_inbound_at), aware(row.template_sent_at))
        finally:
            session.close()

    def mark_sent(self, row_id: int, platform_message_id: Optional[str], template_sent: bool = False,
                  user_id: Optional[str] = None) -> None:
        """The platform accepted the call: clear the body."""
        now = utcnow()

        def work(session: Session) -> None:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(
                status="sent", body=None, sent_at=now, platform_message_id=platform_message_id, error=None,
                attempts=OutboxMessage.attempts + 1,
            ))
            if template_sent and user_id is not None:
                session.execute(update(ChannelAddress).where(
                    ChannelAddress.platform == self.platform, ChannelAddress.user_id == user_id
                ).values(template_sent_at=now))

        self._write(work)

    def mark_retry(self, row_id: int, delay: float, error: str) -> None:
        """A transient failure: try again after ``delay`` seconds."""
        self._write(lambda s: s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(
            attempts=OutboxMessage.attempts + 1, next_attempt_at=utcnow() + timedelta(seconds=delay),
            error=error[:200],
        )))

    def mark_done(self, row_id: int, status: str, error: str) -> None:
        """``failed`` or ``expired`` for good: the body is cleared."""
        self._write(lambda s: s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(
            status=status, body=None, error=error[:200], attempts=OutboxMessage.attempts + 1,
        )))

    def set_delivery_status(self, platform_message_id: str, status: str) -> None:
        """A platform status callback (WhatsApp: sent, delivered, read, failed) for a message we sent."""
        self._write(lambda s: s.execute(update(OutboxMessage).where(
            OutboxMessage.platform == self.platform, OutboxMessage.platform_message_id == platform_message_id
        ).values(delivery_status=status[:16]).execution_options(synchronize_session=False)))

    # --- housekeeping ---
    def prune(self, older_than_days: float) -> None:
        """Forget finished rows older than the redelivery horizon (their ids no longer need recognising)."""
        cutoff = utcnow() - timedelta(days=older_than_days)

        def work(session: Session) -> None:
            session.execute(delete(InboxMessage).where(
                InboxMessage.platform == self.platform, InboxMessage.status.in_(("done", "failed")),
                InboxMessage.received_at < cutoff,
            ))
            session.execute(delete(OutboxMessage).where(
                OutboxMessage.platform == self.platform, OutboxMessage.status.in_(("sent", "failed", "expired")),
                OutboxMessage.created_at < cutoff,
            ))

        self._write(work)

    def forget(self, user_id: str) -> None:
        """Delete everything this platform stored about ``user_id`` (its address, inbox and outbox rows)."""

        def work(session: Session) -> None:
            for model in (InboxMessage, OutboxMessage, ChannelAddress):
                session.execute(delete(model).where(model.platform == self.platform, model.user_id == user_id))

        self._write(work)


class CollectingOutput(OutputChannel):
    """Keeps Rasa's bot messages of one turn as they are (paragraphs together; the platform renders them).

    Once the turn is stored, ``later`` takes over: a reminder Rasa scheduled with this channel goes to the outbox.
    """

    def __init__(self, later: Optional[OutputChannel] = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.later = later
        self.closed = False

    @classmethod
    def name(cls) -> str:
        """Not a platform: the worker's collector."""
        return "collector"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Collect one bot message (after the turn: queue it)."""
        if self.closed and self.later is not None:
            await self.later.send_response(recipient_id, message)
        else:
            self.messages.append(dict(message))


class OutboxOutput(OutputChannel):
    """An output channel that queues replies in the outbox (for messages sent outside a user's turn)."""

    def __init__(self, platform: Platform, store: ChannelStore, wake: Callable[[], None]) -> None:
        self.platform = platform
        self.store = store
        self.wake = wake

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Render ``message`` and queue it for ``recipient_id`` (a pseudonymous user id)."""
        await asyncio.to_thread(self.store.enqueue, recipient_id, self.platform.render(dict(message)))
        self.wake()


class ChannelWorker:
    """Processes the inbox and sends the outbox of one platform, inside the server's event loop."""

    def __init__(
        self,
        platform: Platform,
        store: ChannelStore,
        on_new_message: Handler,
        *,
        retry_base: float = 1.0,
        retry_max: float = 300.0,
        max_attempts: int = 8,
        lease_seconds: float = 120.0,
        dedupe_days: float = 8.0,
        concurrency: int = 8,
        poll_seconds: float = 1.0,
        gate: Optional[Gate] = None,
    ) -> None:
        self.platform = platform
        self.store = store
        self.on_new_message = on_new_message
        self.retry_base, self.retry_max, self.max_attempts = retry_base, retry_max, max_attempts
        self.lease_seconds = lease_seconds
        self.dedupe_days = dedupe_days
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.gate = gate
        self._inbound = asyncio.Event()
        self._outbound = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._processing: dict[str, asyncio.Task] = {}
        self._sending: dict[str, asyncio.Task] = {}
        self._claimed: set[int] = set()
        self._stopping = False

    @classmethod
    def from_settings(cls, platform: Platform, store: ChannelStore, on_new_message: Handler,
                      settings: Any, gate: Optional[Gate] = None) -> "ChannelWorker":
        """A worker with the retry, lease and retention settings."""
        return cls(
            platform, store, on_new_message, retry_base=settings.channel_retry_base_seconds,
            retry_max=settings.channel_retry_max_seconds, max_attempts=settings.channel_max_attempts,
            lease_seconds=settings.channel_lease_seconds, dedupe_days=settings.channel_dedupe_days, gate=gate,
        )

    def wake(self) -> None:
        """New inbox rows: look now rather than at the next poll."""
        self._inbound.set()

    def wake_outbound(self) -> None:
        """New outbox rows."""
        self._outbound.set()

    def start(self) -> None:
        """Start the processing and sending loops (replaying whatever an earlier process left pending)."""
        self._stopping = False
        self._tasks = [asyncio.ensure_future(self._process_loop()), asyncio.ensure_future(self._send_loop())]

    async def stop(self) -> None:
        """Stop the loops; messages being processed are given back to the inbox."""
        self._stopping = True
        tasks = self._tasks + list(self._processing.values()) + list(self._sending.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        await asyncio.to_thread(self.store.release, list(self._claimed))
        self._claimed.clear()

    async def _wait(self, event: asyncio.Event) -> None:
        # not asyncio.wait_for: on Python 3.10 it can swallow a cancellation that arrives with the timeout
        if not event.is_set():
            waiter = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({waiter}, timeout=self.poll_seconds)
            finally:
                waiter.cancel()
        event.clear()

    async def _process_loop(self) -> None:
        last_prune = float("-inf")
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                if loop.time() - last_prune > 3600:
                    await asyncio.to_thread(self.store.prune, self.dedupe_days)
                    last_prune = loop.time()
                free = self.concurrency - len(self._processing)
                if free > 0:
                    claimed = await asyncio.to_thread(self.store.claim, free * 4, self.lease_seconds,
                                                      list(self._processing))
                    for user_id, items in _group(claimed, lambda c: c.user_id).items():
                        self._claimed.update(c.id for c in items)
                        task = asyncio.ensure_future(self._process_user(items))
                        self._processing[user_id] = task
                        task.add_done_callback(lambda _t, u=user_id: self._finished(self._processing, u,
                                                                                     self._inbound))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is unreachable: log, wait, try again (nothing is lost)
                logger.error("%s inbox: %s; retrying", self.platform.name, type(exc).__name__)
            await self._wait(self._inbound)

    @staticmethod
    def _finished(tasks: dict[str, asyncio.Task], user_id: str, event: asyncio.Event) -> None:
        tasks.pop(user_id, None)
        event.set()

    async def _process_user(self, items: list[Claimed]) -> None:
        for index, item in enumerate(items):
            ok = await self._process(item)
            if not ok:
                await asyncio.to_thread(self.store.release, [c.id for c in items[index + 1:]])
                self._claimed.difference_update(c.id for c in items[index + 1:])
                return

    async def _process(self, item: Claimed) -> bool:
        collector = CollectingOutput(OutboxOutput(self.platform, self.store, self.wake_outbound))
        try:
            text: Optional[str] = await asyncio.to_thread(self.platform.prepare, item.text, item.meta)
            if self.gate is not None:
                text, notices = await self.gate(item.user_id, text or "", item.meta)
                collector.messages.extend(notices)
            if text is not None:
                await self.on_new_message(UserMessage(
                    text, collector, item.user_id, input_channel=self.platform.name,
                    message_id=f"{self.platform.name}:{item.platform_message_id}", metadata=item.meta or None,
                ))
            requests = [request for reply in collector.messages for request in self.platform.render(reply)]
            collector.closed = True  # no await since rendering: nothing collected after this is lost
            await asyncio.to_thread(self.store.complete, item.id, item.user_id, requests)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # the class name only: a message text must never reach the log
            error = type(exc).__name__
            if item.attempts >= self.max_attempts:
                logger.error("%s message %s failed %s times (%s); giving up", self.platform.name, item.id,
                             item.attempts, error)
                await asyncio.to_thread(self.store.give_up_inbound, item.id, error)
            else:
                logger.warning("%s message %s failed (%s); will retry", self.platform.name, item.id, error)
                delay = backoff(item.attempts, self.retry_base, self.retry_max)
                await asyncio.to_thread(self.store.retry_inbound, item.id, error, delay)
            self._claimed.discard(item.id)
            return False
        self._claimed.discard(item.id)
        self._outbound.set()
        return True

    async def _send_loop(self) -> None:
        while not self._stopping:
            try:
                free = self.concurrency - len(self._sending)
                if free > 0:
                    groups = await asyncio.to_thread(self.store.due_outgoing, 200, list(self._sending))
                    for user_id, rows in list(groups.items())[:free]:
                        task = asyncio.ensure_future(self._send_user(user_id, rows))
                        self._sending[user_id] = task
                        task.add_done_callback(lambda _t, u=user_id: self._finished(self._sending, u,
                                                                                     self._outbound))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.error("%s outbox: %s; retrying", self.platform.name, type(exc).__name__)
            await self._wait(self._outbound)

    async def _send_user(self, user_id: str, rows: list[Outgoing]) -> None:
        recipient = await asyncio.to_thread(self.store.recipient, user_id)
        for row in rows:
            if recipient is None:
                await asyncio.to_thread(self.store.mark_done, row.id, "failed", "no address")
                continue
            try:
                result = await self.platform.send(recipient, Request(row.method, row.body))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in rendering/sending: retried like a transient error, and logged
                logger.error("%s send: unexpected %s", self.platform.name, type(exc).__name__)
                result = SendResult.retry(type(exc).__name__)
            if result.status == "sent":
                await asyncio.to_thread(self.store.mark_sent, row.id, result.platform_message_id,
                                        result.template_sent, user_id)
                if result.template_sent:
                    recipient = await asyncio.to_thread(self.store.recipient, user_id)
            elif result.status == "retry":
                attempts = row.attempts + 1
                if attempts >= self.max_attempts:
                    logger.error("%s reply %s failed %s times (%s); giving up", self.platform.name, row.id,
                                 attempts, result.error)
                    await asyncio.to_thread(self.store.mark_done, row.id, "failed", result.error or "retry")
                    continue
                delay = result.retry_after if result.retry_after is not None else backoff(
                    attempts, self.retry_base, self.retry_max
                )
                logger.warning("%s reply %s: %s; retrying in %.1f s", self.platform.name, row.id, result.error,
                               delay)
                await asyncio.to_thread(self.store.mark_retry, row.id, delay, result.error or "retry")
                return  # later rows of this user wait behind this one
            else:
                if result.status == "failed":
                    logger.error("%s reply %s failed: %s", self.platform.name, row.id, result.error)
                await asyncio.to_thread(self.store.mark_done, row.id, result.status,
                                        result.error or result.status)


def _group(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def privacy_gate() -> Optional[Gate]:
    """The rate limit and length limit every channel applies (``bot/privacy/gate.py``), if this build has them."""
    try:
        from bot.privacy.gate import admit, notice_messages
    except ImportError:  # a build without the privacy gate
        return None

    async def gate(user_id: str, text: str, meta: dict) -> tuple[Optional[str], list[dict[str, Any]]]:
        admission = await asyncio.to_thread(admit, user_id, text)
        notices = await notice_messages(admission, user_id, meta)
        return (admission.text if admission.allowed else None), notices

    return gate


def _offer_to_handoff(channel: str, output: OutputChannel) -> None:
    """Counsellors' messages (``bot/handoff``) reach people on this channel through its outbox."""
    try:
        from bot.handoff.relay import register_output
    except ImportError:  # a build without the handoff: nobody to offer the channel to
        return
    register_output(channel, output)


class DurableInputChannel(InputChannel):
    """Base of the Telegram and WhatsApp input channels: the store, the worker and their lifecycle."""

    platform: Platform
    store: ChannelStore
    worker: Optional[ChannelWorker] = None
    run_worker: bool = True
    use_privacy_gate: bool = True

    def _make_worker(self, on_new_message: Handler, settings: Any) -> ChannelWorker:
        gate = privacy_gate() if self.use_privacy_gate else None
        self.worker = ChannelWorker.from_settings(self.platform, self.store, on_new_message, settings, gate)
        return self.worker

    def _attach_lifecycle(self, blueprint: Any) -> None:
        """Start the platform client and the worker with the server; stop them with it."""

        @blueprint.listener("after_server_start")
        async def _start(_app: Any, _loop: Any) -> None:
            quiet_http_logs()  # after logging is configured, before the first request
            await self.platform.start()
            if self.worker is not None and self.run_worker:
                self.worker.start()
            _offer_to_handoff(self.name(), self.get_output_channel())
            await self.on_start()

        @blueprint.listener("before_server_stop")
        async def _stop(_app: Any, _loop: Any) -> None:
            await self.on_stop()
            if self.worker is not None:
                await self.worker.stop()
            await self.platform.close()

    async def on_start(self) -> None:
        """Platform-specific start-up (Telegram: setWebhook or polling)."""

    async def on_stop(self) -> None:
        """Platform-specific shutdown."""

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Proactive messages (reminders, handoff) go through the outbox like replies."""
        wake = self.worker.wake_outbound if self.worker is not None else (lambda: None)
        return OutboxOutput(self.platform, self.store, wake)

    async def accept(self, inbound: Inbound) -> bool:
        """Store one verified message durably (off the event loop); True if new (then the worker is woken)."""
        stored = await asyncio.to_thread(self.store.accept, inbound)
        if stored and self.worker is not None:
            self.worker.wake()
        return stored
