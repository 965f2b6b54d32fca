"""Template context of every page: the signed-in user's unread notification count (the bell)."""

from typing import Any

from django.http import HttpRequest

from accounts.selectors import notifications_unread_count


def notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notifications_unread_count(user=user)}
