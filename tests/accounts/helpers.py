"""Small helpers of the accounts tests: TOTP codes and signed-in, verified clients."""

from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from tests import factories


def totp_code(device: TOTPDevice, *, drift: int = 0) -> str:
    """The code the user's app shows now (or `drift` steps away)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, drift=drift):0{device.digits}d}"


def login_verified(client: Client, user: User) -> TOTPDevice:
    """Sign `user` in with a session verified by a (new, if needed) authenticator device."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = factories.TOTPDeviceFactory(user=user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


def login_post(client: Client, email: str, password: str = factories.PASSWORD, **extra: str):
    return client.post(
        reverse("accounts:login"), {"username": email, "password": password, **extra}
    )
