"""Webhook fixtures: the real app (httpx over ASGI) with SNS certificates supplied by
settings, and a workspace with each provider set up through the service."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.ids import encode_id
from app.settings import Settings, settings
from app.webhooks import config as webhooks
from app.webhooks.notices import Provider
from tests.webhooks.helpers import CERT_URL, TOPIC, SendGridSigner, sns_signer


@pytest.fixture
def wh_config() -> Settings:
    return settings.replace(
        public_url="http://sieve.test", sns_certificates={CERT_URL: sns_signer().pem}
    )


@pytest.fixture
async def client(db, wh_config) -> Any:
    from app.main import create_app

    app = create_app(wh_config)
    app.state.arq = None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sieve.test"
    ) as http:
        yield http


@pytest.fixture
def sendgrid_signer() -> SendGridSigner:
    return SendGridSigner()


@pytest.fixture
async def hooks(workspace, sendgrid_signer) -> dict[str, Any]:
    """Every provider set up for `workspace`: URLs and the secrets Sieve made."""
    ws = workspace.id
    _, generic_secret = await webhooks.set_config(ws, Provider.GENERIC, {})
    _, postmark_token = await webhooks.set_config(ws, Provider.POSTMARK, {})
    await webhooks.set_config(ws, Provider.SES, {"topicArns": [TOPIC]})
    await webhooks.set_config(ws, Provider.SENDGRID, {"publicKey": sendgrid_signer.public_key})
    ref = encode_id("Workspace", ws)
    return {
        "generic": generic_secret,
        "postmark": postmark_token,
        "url": {p.value: f"/webhooks/{p.value}/{ref}" for p in Provider},
    }
