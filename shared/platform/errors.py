"""Named errors raised by services; views turn them into messages, never into 500s."""


class Explained(Exception):
    """An error whose `message` is safe to show to the person who asked."""

    message = "That could not be done."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        if message:
            self.message = message


class ServiceError(Explained):
    """A rule refused the request: the view shows the message where the person is (beside the form, or
    flashed on the page they go back to)."""


class NotFound(Explained):
    """The object does not exist *for this user*: another student's case is indistinguishable from none.
    Views never catch it: the app answers it, everywhere alike, with the not-found page and this message."""

    message = "We could not find that page. If you typed the address, check it is correct."


class PermissionDenied(Explained):
    """The app answers it with the 403 page and this message; views never catch it."""

    message = "You do not have permission to do that."


class ValidationFailed(ServiceError):
    message = "Please correct the errors shown."


class InvalidAnswers(ValidationFailed):
    """The one per-field error: a message for each field, so a form can show each beside its field (the
    first is the error's own message, for a place that shows only one)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values()), None))
        self.errors = errors


class WeakPassword(ValidationFailed):
    pass


class InvalidToken(ServiceError):
    message = "That link is invalid or has expired. Please ask for a new one."


class ConsentRequired(ServiceError):
    message = "No valid consent covers this disclosure."
