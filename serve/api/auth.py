"""Bearer-token authentication for the REST API: 401 without a token, 403 with a wrong one."""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serve.runtime import GatewayRuntime, get_runtime

_bearer = HTTPBearer(auto_error=False, description="The admin API token")


async def require_admin(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> str:
    """The caller's name for the incident log, once its token checks out."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(401, "an API token is required: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    expected = runtime.settings.admin_token or ""
    if not expected or not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(403, "this API token is not allowed to do that")
    return "admin"
