"""How the job's workers build their clients: one factory from one set of options.

Every ``BackupClient`` of a job (one per user, in the local worker or in each Ray actor) is
made by ``make_client(options, user_id, rate_limit)``, so a setting added here reaches all
of them. ``options.rate`` is a number (it travels to Ray actors as one); each worker turns
it into the one ``RateLimit`` its clients share (a ``RateLimit`` serves one event loop).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import attrs

from .. import BackupClient, BearerAuth, HmacAuth, RateLimit, RetryPolicy

__all__ = ["ClientFactory", "ClientOptions", "make_client"]


@attrs.frozen
class ClientOptions:
    """Connection settings for the clients a job makes (secrets are kept out of the repr).

    Either ``app_id`` + ``app_secret`` (``HmacAuth``: signs for any user, the fleet case) or
    ``token`` (``BearerAuth(token, style=auth_style)``) for a manifest of one user
    (``user_id``, when given, must be that user). ``retry``, ``timeout`` and
    ``allow_insecure_http`` are ``BackupClient``'s. ``rate``: request attempts per second
    for the whole job, retries included (``None``: unlimited), shared by all its clients;
    with ``engine="ray"`` each of the ``n`` actors gets ``rate / n``.
    """

    base_url: str
    app_id: str | None = None
    app_secret: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    user_id: str | None = None
    auth_style: Literal["bearer", "bearer+", "raw"] = "bearer"
    retry: RetryPolicy | None = None
    timeout: float = 30.0
    allow_insecure_http: bool = False
    rate: float | None = None

    def __attrs_post_init__(self) -> None:
        hmac = self.app_id is not None or self.app_secret is not None
        if hmac == (self.token is not None):
            raise TypeError("give app_id and app_secret, or a token (not both)")
        if hmac and (not self.app_id or not self.app_secret):
            raise TypeError("app_id and app_secret go together")
        if self.rate is not None:
            RateLimit(self.rate)  # TypeError/ValueError now, not in a worker mid-run

    def rate_limit(self) -> RateLimit | None:
        """A new ``RateLimit`` of ``rate`` (for one worker's clients), or ``None``."""
        return None if self.rate is None else RateLimit(self.rate)

    def check_users(self, users: set[str]) -> None:
        """``ValueError`` (before any request) when a token cannot act for these users."""
        if self.token is None:
            return
        others = users - {self.user_id} if self.user_id is not None else set()
        if len(users) > 1 or others:
            raise ValueError(
                "a token acts for one user, but the journal's targets belong to "
                f"{len(users)} user(s){'' if not others else ' other than the given user ID'}: "
                "use app credentials (KOODRIVE_APP_ID / KOODRIVE_APP_SECRET)"
            )


#: ``factory(options, user_id, rate_limit)``: how a worker makes the client of a user.
ClientFactory: TypeAlias = Callable[[ClientOptions, str, RateLimit | None], BackupClient]


def make_client(
    options: ClientOptions, user_id: str, rate_limit: RateLimit | None = None
) -> BackupClient:
    """A client acting for ``user_id`` (HMAC app signature, or the single user's token).

    ``rate_limit``: the worker's ``RateLimit``, shared by all the clients it makes; without
    one, a client of its own limited to ``options.rate`` (if set).
    """
    if options.app_id is not None and options.app_secret is not None:
        auth: HmacAuth | BearerAuth = HmacAuth(options.app_id, options.app_secret)
    else:
        auth = BearerAuth(options.token, style=options.auth_style)
    return BackupClient(
        options.base_url,
        user_id=user_id,
        auth=auth,
        retry=options.retry,
        timeout=options.timeout,
        allow_insecure_http=options.allow_insecure_http,
        rate_limit=options.rate if rate_limit is None else rate_limit,
    )
