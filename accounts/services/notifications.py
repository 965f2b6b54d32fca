"""The portal inbox: notifications sent to one user and marked read by them."""

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Notification, User

MESSAGE_MAX = 200


def notification_send(*, user: User, message: str, url: str = "") -> Notification:
    """Put `message` (no PHI: it shows on every page) in `user`'s inbox, linking to `url`."""
    return Notification.objects.create(user=user, message=message[:MESSAGE_MAX], url=url[:300])


def notifications_mark_read(
    *, user: User, notifications: QuerySet[Notification] | None = None
) -> int:
    """Mark `user`'s unread notifications read (all, or those of `notifications`); the count."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notifications is not None:
        unread = unread.filter(pk__in=notifications.values("pk"))
    return unread.update(read_at=timezone.now())
