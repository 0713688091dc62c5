"""Bearer-token authentication: an HS256 JWT signed with BETTER_AUTH_SECRET.

The real Todo app issues these tokens with Better Auth; the reference frontend signs a short-lived
token for a demo user. Either way the ``sub`` claim is the user id that scopes every todo.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from fastapi import HTTPException, Request, status

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class User:
    id: str


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def decode_token(token: str, secret: str) -> User:
    """Validate signature, algorithm, ``exp`` and ``sub``; raise 401 otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("Token has expired") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("Invalid token") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise _unauthorized("Invalid token: empty subject")
    return User(id=subject)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Missing bearer token")
    return token.strip()


def current_user(request: Request) -> User:
    """FastAPI dependency: the user named by the request's bearer token."""
    secret: str = request.app.state.settings.auth_secret
    return decode_token(bearer_token(request), secret)
