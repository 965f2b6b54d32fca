"""Forms of the accounts pages. They validate input only; the services do the writing."""

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from accounts.models import Role, User
from accounts.services import SELF_REGISTRATION_ROLES

# Hashing a megabyte-long "password" is a cheap way to burn our CPU; nobody types more than this.
PASSWORD_MAX_LENGTH = 1024


class PortalForm(forms.Form):
    error_css_class = "field-error"
    required_css_class = "required"


def _email_field(**kwargs: Any) -> forms.EmailField:
    return forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        **kwargs,
    )


def _normalized_email(value: str) -> str:
    return value.strip().lower()


class LoginForm(PortalForm):
    # Named "username" because django-axes reads the attempted account from that field.
    username = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_username(self) -> str:
        return _normalized_email(self.cleaned_data["username"])


class CodeForm(PortalForm):
    """A 6-digit code from the authenticator app, or one of the backup codes."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split()).lower()
        if not code.isascii() or not code.isalnum():
            raise ValidationError("Enter the 6 digits shown in your app, or a backup code.")
        return code


class NewPasswordForm(PortalForm):
    """Two password fields checked against the project's password validators."""

    password1 = forms.CharField(
        label="Password",
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def prospective_user(self) -> User:
        """The user the password will belong to, for the similarity validator."""
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            try:
                password_validation.validate_password(first, user=self.prospective_user())
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class RegistrationForm(NewPasswordForm):
    field_order = ["full_name", "email", "role", "password1", "password2"]

    full_name = forms.CharField(
        label="Full name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = _email_field()
    role = forms.ChoiceField(
        label="Role you work in",
        choices=[(role.value, role.label) for role in SELF_REGISTRATION_ROLES],
        help_text="Administrator accounts are created by invitation only.",
    )

    def clean_email(self) -> str:
        return _normalized_email(self.cleaned_data["email"])

    def prospective_user(self) -> User:
        return User(
            email=self.cleaned_data.get("email", ""),
            full_name=self.cleaned_data.get("full_name", ""),
        )


class InvitationAcceptForm(NewPasswordForm):
    field_order = ["full_name", "password1", "password2"]

    full_name = forms.CharField(
        label="Full name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def prospective_user(self) -> User:
        return User(email=self.email, full_name=self.cleaned_data.get("full_name", ""))


class InvitationForm(PortalForm):
    email = _email_field()
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.CLINICIAN)

    def clean_email(self) -> str:
        return _normalized_email(self.cleaned_data["email"])


class ProfileForm(PortalForm):
    full_name = forms.CharField(
        label="Full name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
