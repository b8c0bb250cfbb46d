"""What the AWS providers (SNS, SES) share: one boto3 client per provider, called off the
event loop, and botocore's failures turned into `ProviderError`.

boto3 is synchronous, so every call runs on a worker thread (`asyncio.to_thread`); the
client is thread-safe and keeps its connection pool for the provider's lifetime. botocore
makes exactly one attempt: retrying, backing off and failing over are the ChannelActor's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ConnectTimeoutError,
    ReadTimeoutError,
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.parsers import ResponseParserError

from tocsin.actors.providers.base import ProviderError, TimedOut
from tocsin.actors.providers.detail import detail
from tocsin.actors.providers.settings import AwsAccess

# Error codes AWS services use for "slow down"; they come with 400 as often as with 429.
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown",
    "KMSThrottling", "KMSThrottlingException", "LimitExceededException",
})


def make_client(service: str, access: AwsAccess, endpoint_url: str | None, timeout_s: float) -> Any:
    """A client with one attempt per call and `timeout_s` on connect and read. Without keys
    in the settings, boto3's own chain (environment, profile, instance role) supplies the
    credentials."""
    key_id, secret = access.access_key_id, access.secret_access_key
    keys = (key_id, secret.get_secret_value()) if key_id and secret else (None, None)
    session = boto3.session.Session(aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
                                    region_name=access.region)
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return session.client(service, endpoint_url=endpoint_url, config=config)


async def call(provider: str, method: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """One client call on a worker thread; any failure comes back as `ProviderError`."""
    try:
        return await asyncio.to_thread(method, **kwargs)
    except ClientError as exc:
        raise client_error(provider, exc) from None
    except (ReadTimeoutError, ConnectTimeoutError):
        raise TimedOut(f"{provider}: no answer in time") from None
    except (HTTPClientError, BotoConnectionError, ResponseParserError) as exc:
        # Timeouts, refused or dropped connections, or something in the way answering
        # with a page that is not AWS's: the message may not have been taken.
        raise ProviderError(f"{provider}: {type(exc).__name__}", retryable=True) from None
    except (NoCredentialsError, PartialCredentialsError):
        raise ProviderError(f"{provider}: no usable AWS credentials", retryable=False) from None
    except ParamValidationError as exc:
        raise ProviderError(f"{provider}: invalid request: {detail(str(exc))}", retryable=False) from None
    except BotoCoreError as exc:
        raise ProviderError(f"{provider}: {type(exc).__name__}", retryable=True) from None


def client_error(provider: str, exc: ClientError) -> ProviderError:
    """AWS answered with an error: throttling and 5xx may pass, other 4xx will not."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    retryable = code in THROTTLING_CODES or status == 429 or status >= 500 or status == 0
    said = detail(str(error.get("Message", "")))
    return ProviderError(f"{provider}: {code} (HTTP {status}) {said}".rstrip(), retryable=retryable)
