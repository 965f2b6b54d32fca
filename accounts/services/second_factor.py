"""Second factors: an authenticator app (TOTP) and single-use backup codes (django-otp)."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from accounts.selectors import user_totp_device
from accounts.services.errors import SecondFactorError

BACKUP_CODE_COUNT = 10


def second_factor_verify(*, user: User, token: str) -> Device | None:
    """The confirmed device of `user` that accepts `token` (a TOTP or a backup code), if any.

    Devices are locked while checked, and django-otp's throttling and replay protection apply:
    a TOTP code is accepted once, a backup code is consumed.
    """
    token = "".join(token.split()).lower()
    if not token:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(token):
                return device
    return None


@transaction.atomic
def totp_device_start(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator device to enrol (reused, so a scanned QR code stays valid)."""
    device = user_totp_device(user=user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@transaction.atomic
def backup_codes_generate(*, user: User, ip: str | None = None) -> list[str]:
    """Replace the user's backup codes with fresh ones; the codes are returned to be shown once."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    audit_record(
        actor=user, action=AuditAction.UPDATE, obj=user, ip=ip, detail={"change": "backup_codes"}
    )
    return codes


def totp_device_confirm(
    *, user: User, token: str, ip: str | None = None
) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending enrolment with a code from the app.

    Returns the confirmed device and fresh backup codes, which are shown once and never again.

    Raises SecondFactorError when there is no enrolment or the code does not match. A wrong code
    is committed as a throttling failure (django-otp), so it is not raised inside the transaction.
    """
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        if device is None:
            raise SecondFactorError("This enrolment is no longer valid; start again.")
        verified = device.verify_token("".join(token.split()))
        if verified:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            audit_record(
                actor=user,
                action=AuditAction.UPDATE,
                obj=user,
                ip=ip,
                detail={"change": "2fa_enabled"},
            )
            codes = backup_codes_generate(user=user, ip=ip)
    if not verified:
        raise SecondFactorError("That code is not valid. Check the time on your phone and retry.")
    return device, codes


def second_factor_disable(*, user: User, token: str, ip: str | None = None) -> None:
    """Remove every second factor of `user`, given a current code.

    Raises PermissionDenied for users who must use two factors, SecondFactorError for a bad code
    (the failed attempt stays recorded for throttling).
    """
    if user.must_use_two_factor:
        raise PermissionDenied("Administrators cannot turn off two-factor authentication.")
    if second_factor_verify(user=user, token=token) is None:
        raise SecondFactorError("That code is not valid.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit_record(
            actor=user,
            action=AuditAction.UPDATE,
            obj=user,
            ip=ip,
            detail={"change": "2fa_disabled"},
        )
