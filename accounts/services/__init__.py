"""Writes of the accounts app: roles, registration and approval, second factors, API tokens, the
guided tour's state.

Every change a person makes here is appended to the audit trail, with ids only (no names, no PHI).
Import from here; the submodules are an implementation detail.
"""

from accounts.services.api_tokens import api_token_create, api_token_revoke
from accounts.services.errors import (
    AccountError,
    EmailAlreadyRegistered,
    InvitationNotUsable,
    SecondFactorError,
)
from accounts.services.notifications import notification_send, notifications_mark_read
from accounts.services.registration import (
    INVITATION_LIFETIME,
    SELF_REGISTRATION_ROLES,
    invitation_accept,
    invitation_check,
    invitation_create,
    user_approve,
    user_register,
    user_reject,
)
from accounts.services.roles import (
    ROLE_PERMISSIONS,
    role_groups_ensure,
    user_change_role,
    user_set_role,
    user_update_profile,
)
from accounts.services.second_factor import (
    BACKUP_CODE_COUNT,
    backup_codes_generate,
    second_factor_disable,
    second_factor_verify,
    totp_device_confirm,
    totp_device_start,
)
from accounts.services.tours import user_tour_seen_record

__all__ = [
    "BACKUP_CODE_COUNT",
    "INVITATION_LIFETIME",
    "ROLE_PERMISSIONS",
    "SELF_REGISTRATION_ROLES",
    "AccountError",
    "EmailAlreadyRegistered",
    "InvitationNotUsable",
    "SecondFactorError",
    "api_token_create",
    "api_token_revoke",
    "backup_codes_generate",
    "invitation_accept",
    "invitation_check",
    "invitation_create",
    "notification_send",
    "notifications_mark_read",
    "role_groups_ensure",
    "second_factor_disable",
    "second_factor_verify",
    "totp_device_confirm",
    "totp_device_start",
    "user_approve",
    "user_change_role",
    "user_register",
    "user_reject",
    "user_set_role",
    "user_tour_seen_record",
    "user_update_profile",
]
