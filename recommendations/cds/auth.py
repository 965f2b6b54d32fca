"""Who is calling: the CDS Hooks client authentication (CDS Hooks 2.0, "Trusting CDS Clients").

Every call carries `Authorization: Bearer <JWT>`, signed by the EHR with its private key. We accept
a token only when all of these hold:

- its `alg` is RS384 or ES384 and matches the type of the client's registered key (never `none`,
  never an HMAC: a public key used as a shared secret proves nothing);
- its `iss` is the issuer of an active CdsClient, and the signature verifies with that client's
  public key;
- its `aud` is the absolute URL of the endpoint being called;
- `exp`, `iat` and `jti` are present; it has not expired; it lives at most 5 minutes
  (exp - iat <= 300 s); `iat` is not in the future;
- its `jti` has not been seen from this client while the token is alive (the cache remembers each
  jti until the token expires, so a captured token cannot be replayed).

Failures raise CdsAuthError with a short reason for the 401 answer; nothing about the patient is
read before the caller is known.
"""

import hashlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.cache import cache

from recommendations.models import CdsClient

logger = logging.getLogger(__name__)

ALGORITHMS = ("RS384", "ES384")
MAX_LIFETIME_S = 300
LEEWAY_S = 30  # clock skew between the EHR and us
TOKEN_MAX_CHARS = 8192
MIN_RSA_BITS = 2048

_keys: dict[str, Any] = {}


class CdsAuthError(Exception):
    """The call is not authenticated; the message says why (it goes back to the caller)."""


def _public_key(pem: str) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The client's public key, parsed once per process (keyed by the PEM's digest)."""
    digest = hashlib.sha256(pem.encode()).hexdigest()
    key = _keys.get(digest)
    if key is None:
        key = load_pem_public_key(pem.encode())
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise CdsAuthError("The client's registered key is neither RSA nor EC.")
        _keys[digest] = key
    return key


def _algorithm_for(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CdsAuthError("The client's registered RSA key is too short.")
        return "RS384"
    if not isinstance(key.curve, ec.SECP384R1):
        raise CdsAuthError("ES384 needs a P-384 key.")
    return "ES384"


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise CdsAuthError("Send Authorization: Bearer <JWT>.")
    token = token.strip()
    if len(token) > TOKEN_MAX_CHARS:
        raise CdsAuthError("The token is too long.")
    return token


def _client_for(token: str) -> CdsClient:
    header = jwt.get_unverified_header(token)
    if header.get("alg") not in ALGORITHMS:
        raise CdsAuthError("The token must be signed with RS384 or ES384.")
    claims = jwt.decode(token, options={"verify_signature": False})
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer or len(issuer) > 300:
        raise CdsAuthError("The token names no issuer.")
    client = CdsClient.objects.filter(issuer=issuer, is_active=True).first()
    if client is None:
        raise CdsAuthError("Unknown or inactive issuer.")
    return client


def _verified_claims(token: str, client: CdsClient, audiences: list[str]) -> dict[str, Any]:
    key = _public_key(client.public_key_pem)
    algorithm = _algorithm_for(key)
    if jwt.get_unverified_header(token).get("alg") != algorithm:
        raise CdsAuthError(f"This client signs with {algorithm}.")
    claims: dict[str, Any] = jwt.decode(
        token,
        key=key,
        algorithms=[algorithm],
        audience=audiences,
        issuer=client.issuer,
        leeway=LEEWAY_S,
        options={"require": ["iss", "aud", "exp", "iat", "jti"]},
    )
    now = time.time()
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise CdsAuthError("exp and iat must be numbers.")
    if iat > now + LEEWAY_S:
        raise CdsAuthError("The token was issued in the future.")
    if exp - iat > MAX_LIFETIME_S:
        raise CdsAuthError("The token may live at most 5 minutes (exp - iat <= 300).")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise CdsAuthError("The token needs a jti (a unique string).")
    return claims


def _jti_first_use(client: CdsClient, claims: dict[str, Any]) -> bool:
    """True the first time this client's jti is seen while the token is alive."""
    digest = hashlib.sha256(claims["jti"].encode()).hexdigest()[:40]
    alive = max(1, int(claims["exp"] - time.time()) + LEEWAY_S)
    return cache.add(f"cds-jti:{client.pk}:{digest}", 1, timeout=alive)


def cds_client_authenticate(*, authorization: str, audiences: Iterable[str]) -> CdsClient:
    """The CdsClient whose valid, fresh, first-used JWT is in `authorization` (the header's value),
    addressed to one of `audiences` (absolute URLs of the endpoint); CdsAuthError otherwise."""
    token = _bearer(authorization or "")
    try:
        client = _client_for(token)
        claims = _verified_claims(token, client, list(audiences))
    except CdsAuthError:
        raise
    except jwt.ExpiredSignatureError:
        raise CdsAuthError("The token has expired.") from None
    except jwt.InvalidAudienceError:
        raise CdsAuthError("The token's aud is not this endpoint's URL.") from None
    except jwt.InvalidSignatureError:
        raise CdsAuthError("The token's signature does not verify.") from None
    except jwt.MissingRequiredClaimError as error:
        raise CdsAuthError(f"The token has no {error.claim!r} claim.") from None
    except (jwt.PyJWTError, UnsupportedAlgorithm, ValueError, TypeError, KeyError):
        raise CdsAuthError("The token is malformed or invalid.") from None
    if not _jti_first_use(client, claims):
        logger.warning("CDS client %s: replayed token refused", client.public_id)
        raise CdsAuthError("This token has been used already (jti replay).")
    return client
