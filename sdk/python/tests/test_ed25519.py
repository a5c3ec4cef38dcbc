"""The pure-Python Ed25519 against RFC 8032 section 7.1's test vectors, and its refusals."""

from __future__ import annotations

import pytest

from intentgate import ed25519

RFC8032 = [  # (secret key, public key, message, signature), RFC 8032 section 7.1 TEST 1, 2 and 3
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize("secret,public,message,signature", RFC8032)
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    seed, pub, msg, sig = (bytes.fromhex(x) for x in (secret, public, message, signature))
    assert ed25519.public_key(seed) == pub
    assert ed25519.sign(seed, msg) == sig
    assert ed25519.verify(pub, msg, sig)


def test_refuses_what_is_not_the_signature() -> None:
    secret, public, message, signature = (bytes.fromhex(x) for x in RFC8032[1])
    assert not ed25519.verify(public, b"\x73", signature), "other message"
    flipped = bytearray(signature)
    flipped[5] ^= 1
    assert not ed25519.verify(public, message, bytes(flipped)), "flipped bit in R"
    flipped = bytearray(signature)
    flipped[40] ^= 1
    assert not ed25519.verify(public, message, bytes(flipped)), "flipped bit in S"
    other = ed25519.public_key(bytes.fromhex(RFC8032[0][0]))
    assert not ed25519.verify(other, message, signature), "other key"
    # S + L is the same scalar modulo L but is not canonical: RFC 8032 requires S < L.
    s = int.from_bytes(signature[32:], "little") + 2**252 + 27742317777372353535851937790883648493
    assert not ed25519.verify(public, message, signature[:32] + s.to_bytes(32, "little"))
    assert not ed25519.verify(public, message, signature[:63]), "short signature"
    assert not ed25519.verify(b"\xff" * 32, message, signature), "not a point"
    del secret
