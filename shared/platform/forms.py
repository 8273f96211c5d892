"""The form base every form subclasses, and the fields that read numbers, records and dates: one message
for a refused answer, the same on both sides and in every area."""

from flask import g, has_request_context, request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import (
    DateField,
    FileField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
)
from wtforms.widgets import CheckboxInput, ListWidget


class Form(FlaskForm):
    """The base of every form. It reads the submitted form fields, and files only into file fields: a
    file sent for a text field, or a JSON body, is ignored (and so fails validation) instead of
    reaching a validator that cannot handle it. (NUL characters are already gone: shared.web.hooks.ServiceRequest.)"""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is not _Auto:
                return formdata
            if not form.is_submitted():
                return None
            files = [
                (name, value)
                for name, value in request.files.items(multi=True)
                if isinstance(form._fields.get(name), FileField)
            ]
            return CombinedMultiDict([MultiDict(files), request.form]) if files else request.form


# The largest record number (an id) and whole number the service keeps: every integer column holds it on
# every database it runs on (PostgreSQL's integer is 32-bit; SQLite's driver refuses anything past 2^63 - 1
# with an OverflowError). Every integer in an address (shared.web.hooks.RecordIdConverter) and in a form (the
# fields below) is bounded by it, so no typed number reaches the database that it cannot hold.
NUMBER_MAX = 2**31 - 1


def whole_number(value, *, signed: bool = False, minimum: int = 0, maximum: int = NUMBER_MAX) -> int | None:
    """A whole number as typed (ASCII digits, a sign if `signed`) within minimum..maximum, else None.
    str.isdigit alone lets through '²', which int() refuses; twenty digits the database refuses: each was a
    500. The digits are counted before int() is asked (it refuses more than 4300 of them with an error)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = (value or "").strip() if isinstance(value, str) else ""
        digits = text[1:] if signed and text[:1] in "+-" and text else text
        if not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > len(str(NUMBER_MAX)):
            return None
        number = -int(digits) if text.startswith("-") else int(digits)
    return number if minimum <= number <= maximum else None


def record_number(value: str | None) -> int | None:
    """A record's number as typed into an address or a filter (0 up to NUMBER_MAX), else None."""
    return whole_number(value)


def _refused_number() -> None:
    """Marks the request: a form field refused a number (not a number, or one out of range). The page with
    the field's error then answers 400 instead of 200 (shared.web.hooks), as for any request that cannot be done."""
    if has_request_context():
        g.refused_number = True


class WholeNumber(IntegerField):
    """A whole number, at most NUMBER_MAX either way: anything else gets the field's own message here, before
    WTForms' NumberRange (which turns a long one into a float and overflows) or the database."""

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        self.data = whole_number(str(valuelist[0]), signed=True, minimum=-NUMBER_MAX)
        if self.data is None:
            _refused_number()
            text = str(valuelist[0]).strip().lstrip("+-")
            raise ValueError("Enter a smaller number." if text.isascii() and text.isdigit()
                             else "Enter a whole number, for example 45.")


CHOOSE_ONE = "Choose one of the options shown."


def record_id(value) -> int | None:
    """The coercion of every choice of a record (a consent, a document, an officer): its number (1 up to
    NUMBER_MAX), or None for no choice; anything else is refused with the field's error."""
    if value is None or value == "":
        return None
    number = whole_number(value, minimum=1)
    if number is None:
        _refused_number()
        raise ValueError(CHOOSE_ONE)
    return number


class RecordChoices:
    """Mixed into a choice field (radio buttons, a select, checkboxes) whose values are records' numbers:
    each value is read with record_id, and a value it refuses is the field's error in the service's words
    (WTForms would say "Invalid Choice: could not coerce.")."""

    def __init__(self, *args, **kwargs):
        kwargs["coerce"] = record_id
        kwargs.setdefault("validate_choice", False)  # the view offers only the student's own; the service checks
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            self.data = None
            raise ValueError(CHOOSE_ONE) from exc
        if isinstance(self.data, list):
            self.data = [number for number in self.data if number is not None]


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RecordCheckboxField(RecordChoices, MultiCheckboxField):
    """Checkboxes choosing several records by their numbers."""


class RecordRadioField(RecordChoices, RadioField):
    """Radio buttons choosing one record by its number."""


class RecordSelectField(RecordChoices, SelectField):
    """A select choosing one record by its number (its empty option: none)."""


class FriendlyDateField(DateField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d %m %Y"])
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError("Enter the date as day, month and year, for example 14/03/2027.") from exc
