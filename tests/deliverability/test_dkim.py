"""DKIM: a key per sender domain, set through GraphQL; what the SMTP server received from
a broadcast and from a flow verifies with dkimpy against the published record."""

from __future__ import annotations

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.broadcasts import service
from app.flows import dispatch
from app.flows import service as flows
from tests.broadcasts.helpers import draft, run_workers, segment
from tests.flows.conftest import active_flow, run_flows
from workers.flows import close_flows

SET = """
mutation($input: SetDkimKeyInput!) {
  setDkimKey(input: $input) {
    dkimKey { domain selector dnsRecordName dnsRecordValue } userErrors { path code }
  }
}"""
KEYS = "{ dkimKeys { totalCount edges { node { domain selector dnsRecordName } } } }"
CREATE_SENDER = (
    "mutation($i: CreateSenderInput!) { createSender(input: $i) { userErrors { code } } }"
)


def pem_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def dns_of(*records: dict):
    published = {f"{r['dnsRecordName']}.".encode(): r["dnsRecordValue"].encode() for r in records}

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return published.get(name)

    return lookup


async def test_broadcast_and_flow_mail_is_signed_and_verifies(
    gql, workspace, make_person, arq_redis, bounce_ctx, scripted_smtp
):
    # given: a key given as PEM for shop.test, a generated one for flows.test
    _, server = scripted_smtp
    given = (await gql.ok(SET, {"input": {"domain": "Shop.test", "selector": "s2026",
                                          "privateKey": pem_key()}}))["setDkimKey"]  # fmt: skip
    assert (
        given["userErrors"] == []
        and given["dkimKey"]["dnsRecordName"] == "s2026._domainkey.shop.test"
    )
    assert given["dkimKey"]["dnsRecordValue"].startswith("v=DKIM1; k=rsa; p=")
    made = (await gql.ok(SET, {"input": {"domain": "flows.test", "selector": "f1"}}))["setDkimKey"]
    assert made["userErrors"] == []
    await gql.ok(CREATE_SENDER, {"i": {"email": "hi@flows.test", "default": True}})
    listed = (await gql.ok(KEYS))["dkimKeys"]
    assert [e["node"]["domain"] for e in listed["edges"]] == ["flows.test", "shop.test"]
    assert "PRIVATE" not in str(listed) + str(given) + str(made)

    # when: a broadcast from shop.test, a flow email from the default sender, and an
    # unsigned broadcast from a domain without a key
    ada = await make_person("ada@x.test", tags=["a"])
    a = await segment(workspace.id, "a", "a")
    for sender in ("news@shop.test", "other@elsewhere.test"):
        created = await service.create_broadcast(workspace.id, draft([a], fromEmail=sender))
        await service.send_broadcast(workspace.id, created.id, None, arq_redis)
    await run_workers(arq_redis, bounce_ctx)
    flow = await active_flow(workspace.id, {"entry": "hi", "steps": [
        {"id": "hi", "sendEmail": {"subject": "Welcome", "text": "Hello", "next": "end"}},
        {"id": "end", "exit": {}},
    ]})  # fmt: skip
    await flows.enroll_people(workspace.id, flow.id, [ada.id], dispatch.ArqScheduler(arq_redis))
    try:
        await run_flows(arq_redis, bounce_ctx)
    finally:
        await close_flows(bounce_ctx)

    # then: what the server received verifies, List-Unsubscribe included in the signature
    lookup = dns_of(given["dkimKey"], made["dkimKey"])
    by_from = {m["From"]: raw for m, raw in zip(server.messages, server.raw, strict=True)}
    assert set(by_from) == {"news@shop.test", "other@elsewhere.test", "hi@flows.test"}
    for sender in ("news@shop.test", "hi@flows.test"):
        raw = by_from[sender]
        assert dkim.verify(raw, dnsfunc=lookup), sender
        signature = raw.split(b"\r\n", 1)[0]
        assert b"list-unsubscribe:list-unsubscribe-post" in signature
        # a changed body or a changed signed header no longer verifies
        assert not dkim.verify(raw[:-2] + b"!\r\n", dnsfunc=lookup)
        assert not dkim.verify(raw.replace(b"Subject: ", b"Subject: Re: ", 1), dnsfunc=lookup)
    assert not by_from["other@elsewhere.test"].startswith(b"DKIM-Signature")


async def test_bad_keys_and_domains_are_refused(gql):
    bad = (await gql.ok(SET, {"input": {"domain": "not a domain", "selector": "-x",
                                        "privateKey": "-----BEGIN NOTHING-----"}}))["setDkimKey"]  # fmt: skip
    assert {(tuple(e["path"]), e["code"]) for e in bad["userErrors"]} == {
        (("input", "domain"), "INVALID"),
        (("input", "selector"), "INVALID"),
        (("input", "privateKey"), "INVALID"),
    }
    assert (await gql.ok(KEYS))["dkimKeys"]["totalCount"] == 0
