from django.urls import path

from accounts.views import auth, notifications, profile, registration

app_name = "accounts"
urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("login/code/", auth.login_otp_view, name="login_otp"),
    path("logout/", auth.logout_view, name="logout"),
    path("register/", registration.register_view, name="register"),
    path("profile/", profile.profile_view, name="profile"),
    path("profile/2fa/enrol/", profile.otp_enroll_view, name="otp_enroll"),
    path("profile/2fa/disable/", profile.otp_disable_view, name="otp_disable"),
    path("profile/2fa/backup-codes/", profile.backup_codes_view, name="backup_codes"),
    path("profile/api-token/", profile.api_token_create_view, name="api_token_create"),
    path("profile/api-token/revoke/", profile.api_token_revoke_view, name="api_token_revoke"),
    path("invite/", registration.invite_create_view, name="invite_create"),
    path("invite/<str:token>/", registration.invite_accept_view, name="invite_accept"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/bell/", notifications.notification_bell, name="notification_bell"),
    path("notifications/read/", notifications.notifications_read_all, name="notifications_read"),
    path(
        "notifications/<uuid:public_id>/open/",
        notifications.notification_open,
        name="notification_open",
    ),
    path("pending/", registration.pending_users_view, name="pending_users"),
    path("users/<uuid:public_id>/approve/", registration.user_approve_view, name="user_approve"),
    path("users/<uuid:public_id>/reject/", registration.user_reject_view, name="user_reject"),
]
