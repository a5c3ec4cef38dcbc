"""The committed vectors (test/vectors/, test/sdk/vectors/) that the TypeScript code produced, reproduced here byte for byte."""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from typing import Any

import pytest
from conftest import load_vectors

from intentgate import (
    CanonicalizationError,
    MemoryWriter,
    TokenKeys,
    attenuate_token,
    canonicalize,
    check_coverage,
    derive_tenant_key,
    mint_token,
    verify_memory_item,
    verify_token,
)
from intentgate._bytes import decode_base64url

JCS = load_vectors("test/vectors/canonical-json.json")
TOKENS = load_vectors("test/vectors/capability-tokens.json")
MEMORY = load_vectors("test/sdk/vectors/memory-items.json")
RINGS = {name: TokenKeys.from_file(file) for name, file in TOKENS["key_files"].items()}


def double(hex_text: str) -> float:
    return float(struct.unpack(">d", bytes.fromhex(hex_text))[0])


def test_canonical_json_cases() -> None:
    assert len(JCS["canonical"]) >= 9
    for case in JCS["canonical"]:
        out = canonicalize(json.loads(case["input"])).encode("utf-8")
        assert out.hex() == case["expected_utf8_hex"], case["name"]


def test_canonical_json_numbers() -> None:
    for n in JCS["numbers"]:
        assert canonicalize(double(n["ieee754_hex"])) == n["expected"], n["ieee754_hex"]


def test_canonical_json_refusals() -> None:
    for n in JCS["number_refusals"]:
        with pytest.raises(CanonicalizationError):
            canonicalize(double(n["ieee754_hex"]))
    for r in JCS["refused"]:
        with pytest.raises(CanonicalizationError):
            canonicalize(json.loads(r["input"]))


def test_tenant_keys() -> None:
    assert len(TOKENS["tenant_keys"]) == 6
    for k in TOKENS["tenant_keys"]:
        master = decode_base64url(k["master_secret"])
        assert master is not None
        assert derive_tenant_key(master, k["tenant"]).hex() == k["derived_hex"]


def _verify(token: str, v: dict[str, Any]) -> dict[str, Any]:
    revoked = set(v.get("revoked_ids", []))
    result = verify_token(
        token,
        keys=RINGS[v["key_file"]],
        now=v["now"],
        skew_seconds=v.get("skew_seconds", 30),
        is_revoked=(lambda ids: any(i in revoked for i in ids)) if "revoked_ids" in v else None,
    )
    return {"ok": True, "effective": result.effective} if result.ok else {"ok": False, "code": result.code}


@pytest.mark.parametrize("case", TOKENS["cases"], ids=lambda c: c["name"])
def test_token_case(case: dict[str, Any]) -> None:
    h = case["header"]
    key = bytes.fromhex(next(t["derived_hex"] for t in TOKENS["tenant_keys"] if t["kid"] == h["kid"] and t["tenant"] == h["tenant"]))
    values = [h, *case["caveats"], *(x for hop in case["hops"] for x in [{"type": "hop", "id": hop["id"]}, *hop["caveats"]])]
    assert [s["segment"] for s in case["steps"]] == [canonicalize(v) for v in values]
    for step in case["steps"]:
        key = hmac.new(key, step["segment"].encode("utf-8"), hashlib.sha256).digest()
        assert key.hex() == step["tag_hex"]
    minted = mint_token(RINGS["rotated"], tenant=h["tenant"], subject=h["subject"], issuer=h["issuer"], caveats=case["caveats"], issued_at=h["issued_at"], id=h["id"], kid=h["kid"])
    assert minted == case["tokens"][0]
    for i, hop in enumerate(case["hops"]):
        assert attenuate_token(case["tokens"][i], hop["caveats"], hop_id=hop["id"]) == case["tokens"][i + 1]
    for v in case["verify"]:
        assert _verify(case["tokens"][v["token_index"]], v) == v["expect"], f"verify at {v['now']} with {v['key_file']}"
    first = verify_token(case["token"], keys=RINGS[case["verify"][0]["key_file"]], now=case["verify"][0]["now"])
    assert first.ok and first.effective is not None
    for cov in case["coverage"]:
        call = cov["call"]
        result = check_coverage(first.effective, server=call["server"], tool=call["tool"], arguments=call["arguments"], agent=call["agent"], prompt=call.get("prompt"))
        assert (result.code if not result.ok else "ok") == cov["expect"], cov["name"]


def test_every_tampered_token_is_refused_with_its_code() -> None:
    assert len(TOKENS["refused"]) >= 20
    for r in TOKENS["refused"]:
        assert _verify(r["token"], r) == r["expect"], r["name"]


@pytest.mark.parametrize("writer", MEMORY["writers"], ids=lambda w: w["writer"])
def test_memory_items_match_node_crypto(writer: dict[str, Any]) -> None:
    keys = TokenKeys.from_file(MEMORY["key_file"])
    key = MemoryWriter.from_keys(keys, writer["tenant"], writer["writer"], writer["kid"])
    assert key.to_file(True)["private_key"] == writer["seed"]
    assert key.to_file(False)["public_key"] == writer["public_key"]
    public = decode_base64url(writer["public_key"])
    for item in writer["items"]:
        signed = item["signed"]
        options = {k: signed[k] for k in ("id", "written_at")} | ({"expires_at": signed["expires_at"]} if "expires_at" in signed else {})
        assert key.sign(content=item["content"], **options) == signed
        presented = {**signed, "content": item["content"]}
        result = verify_memory_item(presented, tenant=writer["tenant"], now=MEMORY["now"], skew_seconds=30, public_key=lambda kid, tenant, w: public)
        assert result.ok, result
        altered = verify_memory_item({**presented, "content": item["content"] + "!"}, tenant=writer["tenant"], now=MEMORY["now"], skew_seconds=30, public_key=lambda kid, tenant, w: public)
        assert altered.code == "memory_altered"
