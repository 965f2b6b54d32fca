"""Django admin: behind the portal's sign-in and a verified second factor; the audit trail is
read-only for everyone, superusers included."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django_otp.admin import OTPAdminSite

from accounts.audit import audit_record, client_ip
from accounts.models import AuditAction, AuditEvent, Invitation, User
from accounts.services import AccountError, user_approve, user_change_role, user_reject
from healthmentor.admin_mixins import ReadOnlyAdminMixin


class PortalAdminSite(OTPAdminSite):
    """Only verified (2FA) staff get in, and they sign in through the portal's own login page,
    which counts failures (django-axes) and asks for the second factor."""

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.user.is_authenticated:
            # Signed in but not staff (unverified staff never get here: AdminTwoFactorMiddleware).
            raise PermissionDenied
        destination = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
        return redirect_to_login(destination, login_url=reverse("accounts:login"))


# The default site keeps its name and every registration; only its behaviour changes.
admin.site.__class__ = PortalAdminSite


class UserAddForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "role")

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class ApprovedFilter(admin.SimpleListFilter):
    title = "approved"
    parameter_name = "approved"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Approved"), ("no", "Waiting for approval")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() == "yes":
            return queryset.filter(approved_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(approved_at__isnull=True)
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserAddForm
    list_display = ("email", "full_name", "role", "is_active", "approved", "last_login")
    list_filter = ("role", "is_active", ApprovedFilter)
    search_fields = ("email", "full_name")
    ordering = ("email",)
    filter_horizontal = ()
    readonly_fields = ("approved_at", "approved_by", "last_login", "date_joined")
    # Groups are not edited here: a user's Group follows their role (user_set_role).
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name",)}),
        ("Access", {"fields": ("role", "is_active", "is_staff", "is_superuser")}),
        ("Approval", {"fields": ("approved_at", "approved_by")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "full_name",
                    "role",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    actions = ["approve_registrations", "reject_registrations"]

    @admin.display(boolean=True, description="Approved", ordering="approved_at")
    def approved(self, obj: User) -> bool:
        return obj.approved_at is not None

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool
    ) -> None:
        by = request.user if isinstance(request.user, User) else None
        new_role = obj.role
        if change and "role" in form.changed_data:
            # The role moves through user_change_role below, with its Group and an audit event.
            obj.role = form.initial["role"]
        if not change:
            # Created by an administrator: approved by them.
            obj.approved_at = timezone.now()
            obj.approved_by = by
        super().save_model(request, obj, form, change)
        user_change_role(user=obj, role=new_role, by=by, ip=client_ip(request))
        fields = sorted(set(form.changed_data) - {"role"})
        if not change or fields:
            audit_record(
                actor=by,
                action=AuditAction.UPDATE if change else AuditAction.CREATE,
                obj=obj,
                ip=client_ip(request),
                detail={"via": "django_admin", "fields": fields},
            )

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # the form was accepted
            audit_record(
                actor=request.user if isinstance(request.user, User) else None,
                action=AuditAction.UPDATE,
                obj=User.objects.filter(pk=id).first(),
                ip=client_ip(request),
                detail={"via": "django_admin", "fields": ["password"]},
            )
        return response

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        self._audit_deletion(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._audit_deletion(request, list(queryset))
        super().delete_queryset(request, queryset)

    def _audit_deletion(self, request: HttpRequest, users: list[User]) -> None:
        # Anyone the audit trail names as actor is protected: admin refuses before reaching here.
        for user in users:
            audit_record(
                actor=request.user if isinstance(request.user, User) else None,
                action=AuditAction.DELETE,
                obj=user,
                ip=client_ip(request),
                detail={"via": "django_admin"},
            )

    @admin.action(description="Approve selected registrations", permissions=["change"])
    def approve_registrations(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        assert isinstance(request.user, User)
        approved = 0
        for user in queryset.filter(approved_at__isnull=True, is_active=False):
            user_approve(
                user=user,
                by=request.user,
                base_url=request.build_absolute_uri("/"),
                ip=client_ip(request),
            )
            approved += 1
        self.message_user(request, f"{approved} registration(s) approved.", messages.SUCCESS)

    @admin.action(description="Reject selected registrations", permissions=["delete"])
    def reject_registrations(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        assert isinstance(request.user, User)
        rejected = 0
        for user in queryset:
            try:
                user_reject(user=user, by=request.user, ip=client_ip(request))
            except AccountError:
                continue  # approved accounts are deactivated, never rejected
            rejected += 1
        self.message_user(request, f"{rejected} registration(s) rejected.", messages.SUCCESS)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Invitations are sent from the portal (which emails the link); here they are only listed."""

    list_display = ("email", "role", "created_by", "created_at", "expires_at", "accepted_at")
    list_filter = ("role", ("created_at", admin.DateFieldListFilter))
    search_fields = ("email",)
    # Never token_sha256: a leaked digest is no key, but nobody needs to see it either.
    fields = (
        "public_id",
        "email",
        "role",
        "created_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_user",
    )
    readonly_fields = fields
    list_select_related = ("created_by",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail, to read. Nobody may add, change or delete an event from here."""

    list_display = ("seq", "at", "actor", "action", "object_type", "object_id", "outcome", "ip")
    list_filter = ("action", "outcome", ("at", admin.DateFieldListFilter))
    search_fields = ("object_id",)
    list_select_related = ("actor",)
    show_full_result_count = False  # the table only grows; counting it twice per page is waste
    fields = (
        "seq",
        "at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "ip",
        "outcome",
        "detail",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied  # view-only, whatever the form says
        return super().changeform_view(request, *args, **kwargs)
