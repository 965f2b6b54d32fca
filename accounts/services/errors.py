"""Refusals a view turns into a message for the person who asked."""


class AccountError(Exception):
    """A refused account operation; `str(error)` is safe to show to the person who asked."""


class EmailAlreadyRegistered(AccountError):
    pass


class InvitationNotUsable(AccountError):
    """`reason` is "invalid", "expired" or "used"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SecondFactorError(AccountError):
    pass
