"""CDS Hooks client authentication: a signed JWT per call (CDS Hooks 2.0 "Trusting CDS Clients")."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from django.utils import timezone

from recommendations.models import CdsCard, CdsClient
from tests.recommendations import cds_helpers as h

URL = f"http://testserver{h.SERVICE_PATH}"


@pytest.fixture(scope="module")
def rsa_key():
    return h.rsa_key()


@pytest.fixture(scope="module")
def ec_key():
    return h.ec_key()


@pytest.fixture
def rsa_client(db, rsa_key):
    return CdsClient.objects.create(
        name="RSA EHR", issuer=h.ISSUER, public_key_pem=h.public_pem(rsa_key)
    )


@pytest.fixture
def ec_client(db, ec_key):
    return CdsClient.objects.create(
        name="EC EHR", issuer="https://other-ehr.example.org", public_key_pem=h.public_pem(ec_key)
    )


def body():
    return json.dumps(
        h.hook_request(h.prefetch_diabetic_hypertensive_smoker_with_af(timezone.localdate()))
    )


def post(client, authorization=None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return client.post(h.SERVICE_PATH, body(), content_type="application/json", **headers)


def assert_refused(response):
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith('Bearer realm="cds-services"')
    assert "error" in response.json()
    assert not CdsCard.objects.exists()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**extra):
    now = int(time.time())
    return {"iss": h.ISSUER, "aud": URL, "iat": now, "exp": now + 300, "jti": "j-1", **extra}


def test_an_rs384_token_from_a_registered_client_is_accepted(client, rsa_client, rsa_key):
    assert post(client, f"Bearer {h.signed_token(rsa_key, aud=URL)}").status_code == 200


def test_an_es384_token_is_accepted_and_aud_may_be_a_list(client, ec_client, ec_key):
    token = h.signed_token(ec_key, aud=["https://elsewhere.example", URL], iss=ec_client.issuer)
    assert post(client, f"Bearer {token}").status_code == 200


def test_no_token_is_refused(client, rsa_client):
    assert_refused(post(client))


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "token abc"])
def test_a_header_that_is_not_a_bearer_token_is_refused(client, rsa_client, header):
    assert_refused(post(client, header))


def test_garbage_and_oversized_tokens_are_refused(client, rsa_client):
    assert_refused(post(client, "Bearer not.a.jwt"))
    assert_refused(post(client, "Bearer " + "a" * 9000))


def test_an_unknown_issuer_is_refused(client, rsa_client, rsa_key):
    token = h.signed_token(rsa_key, aud=URL, iss="https://intruder.example")
    assert_refused(post(client, f"Bearer {token}"))


def test_an_inactive_client_is_refused(client, rsa_client, rsa_key):
    CdsClient.objects.filter(pk=rsa_client.pk).update(is_active=False)
    assert_refused(post(client, f"Bearer {h.signed_token(rsa_key, aud=URL)}"))


def test_a_token_signed_with_another_key_is_refused(client, rsa_client):
    assert_refused(post(client, f"Bearer {h.signed_token(h.rsa_key(), aud=URL)}"))


def test_a_tampered_payload_is_refused(client, rsa_client, rsa_key):
    header, _, signature = h.signed_token(rsa_key, aud=URL).split(".")
    forged = _b64(claims(iss=h.ISSUER, jti="forged"))
    assert_refused(post(client, f"Bearer {header}.{forged}.{signature}"))


def test_a_token_for_another_endpoint_is_refused(client, rsa_client, rsa_key):
    token = h.signed_token(rsa_key, aud="http://testserver/cds-services/other-service")
    assert_refused(post(client, f"Bearer {token}"))


def test_an_expired_token_is_refused(client, rsa_client, rsa_key):
    token = h.signed_token(rsa_key, aud=URL, iat=time.time() - 400, lifetime_s=300)
    assert_refused(post(client, f"Bearer {token}"))


def test_a_token_living_longer_than_five_minutes_is_refused(client, rsa_client, rsa_key):
    assert_refused(post(client, f"Bearer {h.signed_token(rsa_key, aud=URL, lifetime_s=3600)}"))


def test_a_token_issued_in_the_future_is_refused(client, rsa_client, rsa_key):
    token = h.signed_token(rsa_key, aud=URL, iat=time.time() + 600)
    assert_refused(post(client, f"Bearer {token}"))


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "aud"])
def test_a_token_without_a_required_claim_is_refused(client, rsa_client, rsa_key, claim):
    assert_refused(post(client, f"Bearer {h.signed_token(rsa_key, aud=URL, drop=(claim,))}"))


def test_alg_none_is_refused(client, rsa_client):
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}."
    assert_refused(post(client, f"Bearer {token}"))


def test_hs256_with_the_public_key_as_secret_is_refused(client, rsa_client, rsa_key):
    # The classic key-confusion forgery: HMAC "signed" with the (public) verification key.
    secret = h.public_pem(rsa_key).encode()
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64(claims(jti="hs"))
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert_refused(post(client, f"Bearer {header}.{payload}.{signature}"))


def test_rs256_is_refused_even_when_signed_by_the_clients_key(client, rsa_client, rsa_key):
    token = jwt.encode(claims(jti="rs256"), rsa_key, algorithm="RS256")
    assert_refused(post(client, f"Bearer {token}"))


def test_an_es384_header_on_an_rsa_client_is_refused(client, rsa_client, ec_key):
    token = jwt.encode(claims(jti="mix"), ec_key, algorithm="ES384")
    assert_refused(post(client, f"Bearer {token}"))


def test_a_replayed_jti_is_refused(client, rsa_client, rsa_key):
    token = h.signed_token(rsa_key, aud=URL)
    assert post(client, f"Bearer {token}").status_code == 200
    assert CdsCard.objects.exists()
    CdsCard.objects.all().delete()
    assert_refused(post(client, f"Bearer {token}"))


def test_the_same_jti_from_two_clients_is_not_a_replay(
    client, rsa_client, ec_client, rsa_key, ec_key
):
    first = h.signed_token(rsa_key, aud=URL, jti="shared-jti-1")
    second = h.signed_token(ec_key, aud=URL, iss=ec_client.issuer, jti="shared-jti-1")
    assert post(client, f"Bearer {first}").status_code == 200
    assert post(client, f"Bearer {second}").status_code == 200
