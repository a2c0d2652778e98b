"""The typed error hierarchy. Every message names the input and the rule it broke."""

from __future__ import annotations


class ClearlineError(Exception):
    """Base of every error Clearline raises on purpose."""

    status_code = 400
    title = "Bad request"


class ConfigurationError(ClearlineError):
    status_code = 500
    title = "Configuration error"


class NotMigratedError(ClearlineError):
    status_code = 503
    title = "Database not migrated"


class ValidationError(ClearlineError):
    """Bad input. `field` and `row` say where, the message says which rule."""

    status_code = 422
    title = "Invalid input"

    def __init__(self, message: str, *, field: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.row = row


class NotFoundError(ClearlineError):
    status_code = 404
    title = "Not found"


class PermissionDeniedError(ClearlineError):
    status_code = 403
    title = "Forbidden"


class AuthenticationError(ClearlineError):
    status_code = 401
    title = "Unauthorized"


class ConflictError(ClearlineError):
    status_code = 409
    title = "Conflict"


class TooManyRequestsError(ClearlineError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProblemTypeError(AuthenticationError):
    """A 401 whose problem type tells the client what to do next (RFC 9457 `type`)."""

    problem_type = "unauthorized"

    @property
    def problem_fields(self) -> dict[str, str]:
        return {"type": f"https://clearline.dev/problems/{self.problem_type}", "code": self.problem_type}


class MfaRequiredError(ProblemTypeError):
    """The password was right; the account has MFA: send the code as `totp` with the same request."""

    problem_type = "mfa_required"


class MfaEnrolmentRequiredError(ProblemTypeError):
    """The organization requires MFA of this user, who has not enrolled yet."""

    problem_type = "mfa_enrolment_required"


class PasswordChangeRequiredError(ProblemTypeError):
    """The password is a temporary one an org admin set: choose a new one first."""

    problem_type = "password_change_required"
