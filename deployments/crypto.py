"""Secrets at rest: MultiFernet over the keys in settings.BERTH_SECRET_KEYS (the first encrypts, all decrypt)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.BERTH_SECRET_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("A secret could not be decrypted with any configured key.") from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the newest key (idempotent)."""
    return fernet().rotate(ciphertext.encode()).decode()


def encrypted_with_newest_key(ciphertext: str) -> bool:
    newest = _fernet((settings.BERTH_SECRET_KEYS[0],))
    try:
        newest.decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True
