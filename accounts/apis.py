"""API tokens over REST, under /api/v1/auth/token/ (Django REST framework).

A token is exchanged for email and password (and a second-factor code where the account has
one), through django-axes like a portal sign-in, and revoked by its holder.
"""

from collections.abc import Sequence
from typing import Any, cast

from axes.helpers import get_lockout_message
from django.contrib.auth import authenticate, user_logged_in, user_login_failed
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import client_ip
from accounts.models import User
from accounts.selectors import user_has_second_factor
from accounts.services import api_token_create, api_token_revoke, second_factor_verify
from healthmentor.api import BaseApi


@extend_schema_serializer(component_name="Token")
class TokenIn(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp_token = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="A code from the authenticator app, or a backup code, for accounts that have "
        "two-factor sign-in.",
    )


@extend_schema_serializer(component_name="Token")
class TokenOut(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")


@extend_schema_serializer(component_name="Refusal")
class RefusalOut(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


def _refused(http_status: int, detail: str, code: str) -> Response:
    response = Response({"detail": detail, "code": code}, status=http_status)
    if http_status == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = "Token"
    return response


WRONG_CREDENTIALS = "The email address, password or code is not correct."


@extend_schema_view(
    post=extend_schema(
        summary="Exchange email and password (and a second-factor code) for an API token",
        description="Issues a new token, replacing the previous one. Failed attempts count "
        "towards the account lockout (django-axes): after 10, even the right password is "
        "refused for 30 minutes.",
        request=TokenIn,
        responses={
            200: TokenOut,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Malformed request."),
            401: OpenApiResponse(RefusalOut, description="Wrong credentials, or code needed."),
            403: OpenApiResponse(RefusalOut, description="Locked out, or 2FA not set up."),
        },
        auth=[],
    ),
    delete=extend_schema(summary="Revoke your API token", responses={204: None}),
)
@extend_schema(tags=["auth"])
class AuthTokenApi(BaseApi):
    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "POST":
            return [AllowAny()]
        return super().get_permissions()

    def post(self, request: Request) -> Response:
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        code = data.validated_data.get("otp_token", "")
        http = request._request
        # Through authenticate(), so django-axes counts the failure and refuses locked accounts.
        user = authenticate(request=http, username=email, password=data.validated_data["password"])
        if isinstance(user, User) and user_has_second_factor(user=user):
            if not code.strip():
                return _refused(
                    status.HTTP_401_UNAUTHORIZED,
                    "This account uses two-factor sign-in: send otp_token, a code from the "
                    "authenticator app or a backup code.",
                    "otp_required",
                )
            if second_factor_verify(user=user, token=code) is None:
                # A wrong code is a failed sign-in: it counts towards the lockout as well.
                user_login_failed.send(
                    sender=__name__, credentials={"username": email}, request=http
                )
                user = None
        if getattr(http, "axes_locked_out", False):
            # Answered here in JSON; AxesMiddleware would swap in its HTML lockout page.
            http.axes_locked_out = False  # type: ignore[attr-defined]
            return _refused(status.HTTP_403_FORBIDDEN, str(get_lockout_message()), "locked_out")
        if not isinstance(user, User):
            return _refused(status.HTTP_401_UNAUTHORIZED, WRONG_CREDENTIALS, "wrong_credentials")
        if user.must_use_two_factor and not user_has_second_factor(user=user):
            return _refused(
                status.HTTP_403_FORBIDDEN,
                "Administrators must set up two-factor sign-in in the portal before using the API.",
                "two_factor_setup_required",
            )
        # A sign-in like the portal's: axes clears the failures, the audit trail records a LOGIN.
        user_logged_in.send(sender=type(user), request=http, user=user)
        key = api_token_create(user=user, ip=client_ip(http))
        return Response({"token": key})

    def delete(self, request: Request) -> Response:
        # Only POST is open to anonymous requests: here the user is authenticated.
        user = cast(User, request.user)
        api_token_revoke(user=user, ip=client_ip(request._request))
        return Response(status=status.HTTP_204_NO_CONTENT)
