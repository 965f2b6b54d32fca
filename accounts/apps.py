from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and audit"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (login, logout, lockout -> audit trail)

        post_migrate.connect(_ensure_role_groups)


def _ensure_role_groups(app_config: AppConfig, **_: Any) -> None:
    from django.apps import apps

    # After the last app migrated, so every app's permissions exist.
    if app_config is list(apps.get_app_configs())[-1]:
        from accounts.services import role_groups_ensure

        role_groups_ensure()
