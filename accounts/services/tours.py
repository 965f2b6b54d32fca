"""The guided tour's state: which roles' first-steps tour a user has finished or dismissed."""

from django.db import transaction

from accounts.models import Role, User


@transaction.atomic
def user_tour_seen_record(*, user: User, role: str) -> list[str]:
    """Remember that `user` finished or dismissed the tour of `role` (idempotent); returns the
    roles whose tour they have seen."""
    locked = User.objects.select_for_update().only("pk", "tours_seen").get(pk=user.pk)
    seen = [r for r in (locked.tours_seen or []) if r in Role.values]
    if role not in seen:
        seen.append(role)
        User.objects.filter(pk=user.pk).update(tours_seen=seen)
    user.tours_seen = seen
    return seen
