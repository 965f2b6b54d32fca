"""Reads of the accounts app: users awaiting approval, invitations, second factors, API tokens."""

import hashlib

from django.contrib.auth.hashers import make_password
from django.db.models import QuerySet
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from accounts.models import Invitation, Notification, User


def token_sha256(token: str) -> str:
    """The stored form of an invitation token: only its digest ever reaches the database."""
    return hashlib.sha256(token.encode()).hexdigest()


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.filter(email=email.strip().lower()).first()


def user_is_awaiting_approval(*, email: str, password: str) -> bool:
    """True only for an unapproved registration whose password is `password`.

    Called after a refused login, so the approval message is shown to the person who knows the
    password and to nobody else. One password hash runs whichever way it goes, so the response
    time does not tell whether the address exists.
    """
    candidate = user_get_by_email(email=email)
    if candidate is not None and candidate.is_awaiting_approval:
        return candidate.check_password(password)
    make_password(password)
    return False


def users_awaiting_approval() -> QuerySet[User]:
    """Self-registered users no admin has approved yet, oldest first."""
    return User.objects.filter(approved_at__isnull=True, is_active=False).order_by("date_joined")


def invitation_get_by_token(*, token: str) -> Invitation | None:
    return Invitation.objects.filter(token_sha256=token_sha256(token)).first()


def invitations_recent(*, limit: int = 20) -> QuerySet[Invitation]:
    return Invitation.objects.select_related("created_by", "accepted_user").order_by("-created_at")[
        :limit
    ]


def user_totp_device(*, user: User, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()


def user_has_second_factor(*, user: User) -> bool:
    """True when any confirmed device (authenticator app or backup codes) guards this account."""
    return bool(user_has_device(user, confirmed=True))


def backup_codes_remaining(*, user: User) -> int:
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device.token_set.count() if device is not None else 0


def user_api_token(*, user: User) -> Token | None:
    return Token.objects.filter(user=user).first()


def notifications_for_user(*, user: User) -> QuerySet[Notification]:
    """`user`'s inbox, newest first."""
    return Notification.objects.filter(user=user)


def notifications_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
