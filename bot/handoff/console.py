"""The counsellor console: a page at ``/console`` and the JSON API behind it at ``/console/api`` (OpenAPI document at
``/console/api/openapi.json``), served by the Rasa server so it can pause, resume and write to conversations.

Authentication: ``POST /console/api/login`` returns a signed token (also set as an HttpOnly cookie). API clients
send ``Authorization: Bearer <token>``; browser requests that change something must also send
``X-Requested-With: amani-console`` (a cross-site form cannot), which stops cross-site request forgery.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from sanic import Blueprint, response
from sanic.request import Request

from bot.handoff import auth
from bot.handoff.service import HandoffError, HandoffService
from bot.store.db import transaction

logger = logging.getLogger(__name__)
PAGE = Path(__file__).parent / "static" / "console.html"
COOKIE = "amani_console"
Handler = Callable[..., Awaitable[Any]]


def blueprint(service_for: Callable[[Request], HandoffService]) -> Blueprint:
    """The console's routes; ``service_for`` gives the service bound to the running agent."""
    bp = Blueprint("amani_console", url_prefix="/console", strict_slashes=False)

    @bp.get("/")
    async def page(request: Request) -> Any:
        return response.html(PAGE.read_text(encoding="utf-8"), headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                       "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    @bp.get("/api/openapi.json")
    async def openapi(request: Request) -> Any:
        return response.json(OPENAPI)

    @bp.post("/api/login")
    async def login(request: Request) -> Any:
        body = request.json if isinstance(request.json, dict) else {}
        service = service_for(request)
        with transaction(service.url) as session:
            account = auth.authenticate(session, str(body.get("username", "")), str(body.get("password", "")))
            identity = auth.Identity(account.username, account.role) if account else None
        if identity is None:
            return response.json({"error": "wrong username or password"}, status=401)
        token = auth.issue_token(identity, service.settings.console_secret)
        reply = response.json({"token": token, "username": identity.username, "role": identity.role})
        reply.cookies[COOKIE] = token
        reply.cookies[COOKIE]["httponly"] = True
        reply.cookies[COOKIE]["samesite"] = "Strict"
        reply.cookies[COOKIE]["path"] = "/console"
        reply.cookies[COOKIE]["secure"] = service.settings.is_production
        return reply

    @bp.post("/api/logout")
    async def logout(request: Request) -> Any:
        reply = response.json({"ok": True})
        del reply.cookies[COOKIE]
        return reply

    def guarded(handler: Handler, supervisor: bool = False) -> Handler:
        async def wrapped(request: Request, **kwargs: Any) -> Any:
            service = service_for(request)
            identity, via_cookie = _identity(request, service.settings.console_secret)
            if identity is None:
                return response.json({"error": "log in first"}, status=401)
            if via_cookie and request.method != "GET" and request.headers.get("X-Requested-With") != "amani-console":
                return response.json({"error": "missing X-Requested-With: amani-console"}, status=403)
            if supervisor and identity.role != "supervisor":
                return response.json({"error": "supervisors only"}, status=403)
            try:
                return response.json(await handler(request, service, identity, **kwargs))
            except HandoffError as error:
                return response.json({"error": str(error)}, status=error.status)
        wrapped.__name__ = handler.__name__
        return wrapped

    async def me(request: Request, service: HandoffService, who: auth.Identity) -> Any:
        return {"username": who.username, "role": who.role}

    async def queue(request: Request, service: HandoffService, who: auth.Identity) -> Any:
        return {"escalations": service.queue()}

    async def detail(request: Request, service: HandoffService, who: auth.Identity, escalation_id: str) -> Any:
        return await service.detail(escalation_id)

    async def accept(request: Request, service: HandoffService, who: auth.Identity, escalation_id: str) -> Any:
        return await service.accept(escalation_id, who)

    async def reply(request: Request, service: HandoffService, who: auth.Identity, escalation_id: str) -> Any:
        return await service.reply(escalation_id, who, _field(request, "text"))

    async def note(request: Request, service: HandoffService, who: auth.Identity, escalation_id: str) -> Any:
        return service.note(escalation_id, who, _field(request, "text"))

    async def transfer(request: Request, service: HandoffService, who: auth.Identity, escalation_id: str) -> Any:
        return service.transfer(escalation_id, who, _field(request, "to"))

    async def resolve(request: Request, service: HandoffService, who: auth.Identity, escalation_id: str) -> Any:
        return await service.resolve(escalation_id, who)

    async def counsellors(request: Request, service: HandoffService, who: auth.Identity) -> Any:
        return {"counsellors": service.counsellors()}

    async def dead_letters(request: Request, service: HandoffService, who: auth.Identity) -> Any:
        return {"deliveries": service.dead_letters()}

    bp.add_route(guarded(me), "/api/me", methods=["GET"])
    bp.add_route(guarded(queue), "/api/escalations", methods=["GET"])
    bp.add_route(guarded(counsellors), "/api/counsellors", methods=["GET"])
    bp.add_route(guarded(dead_letters, supervisor=True), "/api/deliveries/dead", methods=["GET"])
    bp.add_route(guarded(detail), "/api/escalations/<escalation_id:str>", methods=["GET"])
    for name, handler in (("accept", accept), ("reply", reply), ("notes", note), ("transfer", transfer),
                          ("resolve", resolve)):
        bp.add_route(guarded(handler), f"/api/escalations/<escalation_id:str>/{name}", methods=["POST"],
                     name=f"console_{name}")
    return bp


def _identity(request: Request, secret: str) -> tuple[Optional[auth.Identity], bool]:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return auth.read_token(header[7:].strip(), secret), False
    token = request.cookies.get(COOKIE)
    return (auth.read_token(token, secret) if token else None), True


def _field(request: Request, name: str) -> str:
    body = request.json if isinstance(request.json, dict) else {}
    return str(body.get(name) or "")


def _op(summary: str, body: Optional[dict] = None, supervisor: bool = False) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "security": [{"bearer": []}],
                                 "responses": {"200": {"description": "OK"}, "401": {"description": "log in first"},
                                               "403": {"description": "not allowed"},
                                               "404": {"description": "no such escalation"},
                                               "409": {"description": "not in a state that allows this"}}}
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": list(body), "properties": body}}}}
    if supervisor:
        operation["description"] = "Supervisors only."
    return operation


_ID = [{"name": "escalation_id", "in": "path", "required": True, "schema": {"type": "string"}}]
OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Amani counsellor console API", "version": "1",
             "description": "Queue, transcript and actions on crisis handoffs. Log in, then send the token as "
                            "`Authorization: Bearer <token>`. Escalation statuses: open, pending (waiting for a "
                            "human), accepted (a counsellor has it; the bot is paused), resolved, timed_out."},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/console/api/login": {"post": {"summary": "Log in; returns a token (also set as a cookie)",
                                        "requestBody": {"required": True, "content": {"application/json": {
                                            "schema": {"type": "object", "required": ["username", "password"],
                                                       "properties": {"username": {"type": "string"},
                                                                      "password": {"type": "string"}}}}}},
                                        "responses": {"200": {"description": "token, username, role"},
                                                      "401": {"description": "wrong username or password"}}}},
        "/console/api/me": {"get": _op("Who is logged in")},
        "/console/api/escalations": {"get": _op("The queue: waiting first, then by risk, then by waiting time, "
                                                "with service-level timers")},
        "/console/api/escalations/{escalation_id}": {"get": _op("One handoff: screening, audit trail, "
                                                                "deliveries, recent messages"), "parameters": _ID},
        "/console/api/escalations/{escalation_id}/accept": {"post": _op("Accept: assign and pause the bot"),
                                                            "parameters": _ID},
        "/console/api/escalations/{escalation_id}/reply": {"post": _op("Send a message to the person",
                                                                       {"text": {"type": "string"}}),
                                                           "parameters": _ID},
        "/console/api/escalations/{escalation_id}/notes": {"post": _op("Add a team note",
                                                                       {"text": {"type": "string"}}),
                                                           "parameters": _ID},
        "/console/api/escalations/{escalation_id}/transfer": {"post": _op("Transfer to another counsellor",
                                                                          {"to": {"type": "string"}}),
                                                              "parameters": _ID},
        "/console/api/escalations/{escalation_id}/resolve": {"post": _op("Resolve: the bot resumes with a "
                                                                         "check-in"), "parameters": _ID},
        "/console/api/counsellors": {"get": _op("Active counsellors (for transfers)")},
        "/console/api/deliveries/dead": {"get": _op("Deliveries that gave up (alerts)", supervisor=True)},
    },
}
json.dumps(OPENAPI)  # fail at import if the document is not JSON-serialisable
