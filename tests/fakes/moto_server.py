"""SNS and SES faked by moto's server on a loopback port, driven through real boto3 clients.

    with MotoServer() as aws:
        settings = Settings(sns_endpoint_url=aws.url, ses_endpoint_url=aws.url, **aws.credentials)
        endpoint = aws.create_push_endpoint()          # an SNS platform endpoint ARN
        aws.verify_email("alerts@example.com")         # SES refuses unverified senders
        ...
        aws.push_messages(endpoint)  ->  [ {"default": ..., "GCM": ..., ...}, ... ]
        aws.sms_messages()           ->  [ ("+15551234567", "text"), ... ]
        aws.emails()                 ->  [ SentEmail(source, to, subject, body), ... ]

What was sent is read through moto's `/moto-api/data.json`, so it works whether the sender
is this process or a `tocsin up` child. moto keeps its state per process, not per server:
`reset()` (done on start) empties it.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SentEmail:
    source: str
    to: list[str]
    subject: str
    body: str


class MotoServer:
    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""
        # moto accepts any keys; the secret is distinctive so tests can look for leaks.
        self.credentials = {
            "aws_region": REGION,
            "aws_access_key_id": "AKIATOCSINTEST",
            "aws_secret_access_key": "moto-secret-" + uuid.uuid4().hex,
        }

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.reset()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=self.credentials["aws_access_key_id"],
            aws_secret_access_key=self.credentials["aws_secret_access_key"],
        )

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            response.read()

    # -- setting up ----------------------------------------------------------------------

    def create_push_endpoint(self, token: str | None = None, platform: str = "GCM", app: str = "tocsin") -> str:
        """A platform application (made once per name) and an endpoint for one device token."""
        sns = self.client("sns")
        application = sns.create_platform_application(Name=app, Platform=platform, Attributes={})
        endpoint = sns.create_platform_endpoint(
            PlatformApplicationArn=application["PlatformApplicationArn"], Token=token or uuid.uuid4().hex
        )
        return str(endpoint["EndpointArn"])

    def disable_push_endpoint(self, endpoint_arn: str) -> None:
        self.client("sns").set_endpoint_attributes(EndpointArn=endpoint_arn, Attributes={"Enabled": "false"})

    def verify_email(self, address: str) -> None:
        self.client("ses").verify_email_identity(EmailAddress=address)

    # -- what was sent -------------------------------------------------------------------

    def _data(self, service: str) -> dict[str, list[dict[str, Any]]]:
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=HTTP_TIMEOUT_S) as response:
            data: dict[str, Any] = json.load(response)
        found: dict[str, list[dict[str, Any]]] = data.get(service, {})
        return found

    def push_messages(self, endpoint_arn: str) -> list[dict[str, Any]]:
        """The messages published to one platform endpoint, JSON-decoded when they are JSON."""
        for endpoint in self._data("sns").get("PlatformEndpoint", []):
            if endpoint["arn"] == endpoint_arn:
                return [_maybe_json(text) for text in endpoint["messages"].values()]
        return []

    def sms_messages(self) -> list[tuple[str, str]]:
        return [(sms["phone_number"], sms["message"]) for sms in self._data("sns").get("SMS", [])]

    def emails(self) -> list[SentEmail]:
        return [
            SentEmail(
                source=message["source"],
                to=list(message["destinations"].get("ToAddresses", [])),
                subject=message["subject"],
                body=message["body"],
            )
            for message in self._data("ses").get("Message", [])
        ]


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
