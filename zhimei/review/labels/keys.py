"""zhimei's own Ed25519 signing key (evidence manifests, the AIGC ReservedCode fields).

The key is read from an explicit path, else the setting ``evidence_key`` / ``ZHIMEI_EVIDENCE_KEY``, else it is
generated once under ``$ZHIMEI_HOME/keys/zhimei-ed25519.pem`` (mode 600). Its public half travels inside what it
signs, with a fingerprint (sha256 of the raw public key) so a reader can pin it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from zhimei.settings import get_settings
from zhimei.store.keyfiles import write_private_once

__all__ = ["KeyError_", "signing_key", "key_path", "public_key_b64", "fingerprint", "load_public_key",
           "sign_bytes", "verify_bytes"]

_LOCK = threading.Lock()
KEY_ENV = "ZHIMEI_EVIDENCE_KEY"


class KeyError_(ValueError):  # noqa: N801  (KeyError is a builtin)
    """A key file is missing, unreadable or not an Ed25519 key."""


def key_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Where the signing key lives: the explicit path, ZHIMEI_EVIDENCE_KEY, or $ZHIMEI_HOME/keys."""
    if path:
        return Path(path)
    configured = getattr(get_settings(), "evidence_key", None) or os.environ.get(KEY_ENV)
    if configured:
        return Path(configured)
    return get_settings().home / "keys" / "zhimei-ed25519.pem"


def signing_key(path: str | os.PathLike[str] | None = None) -> Ed25519PrivateKey:
    """The Ed25519 private key; the default one is generated on first use (an explicit path must exist)."""
    p = key_path(path)
    explicit = bool(path) or bool(getattr(get_settings(), "evidence_key", None) or os.environ.get(KEY_ENV))
    with _LOCK:
        if not p.exists():
            if explicit:
                raise KeyError_(f"the signing key {p} does not exist")
            key = Ed25519PrivateKey.generate()
            write_private_once(p, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        try:
            loaded = serialization.load_pem_private_key(p.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise KeyError_(f"cannot read the signing key {p}: {exc}") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyError_(f"{p} is not an Ed25519 private key")
    return loaded


def _raw(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return base64.b64encode(_raw(pub)).decode()


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey | str) -> str:
    """sha256 (hex) of the raw public key: what a person compares or pins."""
    if isinstance(key, str):
        key = load_public_key(key)
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return hashlib.sha256(_raw(pub)).hexdigest()


def load_public_key(value: str | bytes | os.PathLike[str]) -> Ed25519PublicKey:
    """A public key from base64 raw bytes, a PEM text, or a PEM/base64 file path."""
    data: bytes
    if isinstance(value, os.PathLike) or (isinstance(value, str) and os.path.isfile(value)):
        data = Path(value).read_bytes()
    else:
        data = value.encode() if isinstance(value, str) else bytes(value)
    data = data.strip()
    try:
        if data.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise KeyError_("the PEM key is not an Ed25519 public key")
            return key
        raw = base64.b64decode(data, validate=True)
        if len(raw) != 32:
            raise KeyError_(f"an Ed25519 public key has 32 bytes, not {len(raw)}")
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, KeyError_):
            raise
        raise KeyError_(f"not an Ed25519 public key (base64 or PEM): {exc}") from None


def sign_bytes(data: bytes, key: Ed25519PrivateKey | None = None) -> bytes:
    """An Ed25519 signature (64 bytes) with zhimei's key."""
    return (key or signing_key()).sign(data)


def verify_bytes(data: bytes, signature: bytes, public: Ed25519PublicKey) -> bool:
    """Whether the signature over data checks out."""
    try:
        public.verify(signature, data)
        return True
    except InvalidSignature:
        return False
