"""Forms of the order admin pages: the list's filter and the order actions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l

STATUS_CHOICES = [
    SelectChoice("", _l("Any status")),
    SelectChoice("created", _l("Awaiting payment")),
    SelectChoice("paid", _l("Paid")),
    SelectChoice("fulfilled", _l("Fulfilled")),
    SelectChoice("partially_refunded", _l("Partially refunded")),
    SelectChoice("refunded", _l("Refunded")),
    SelectChoice("cancelled", _l("Cancelled")),
]


class OrderFilterForm(FlaskForm):
    """The list's filter, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), render_kw={"placeholder": _l("Order number or email")})
    status = SelectField(_l("Status"), choices=STATUS_CHOICES, validate_choice=False)


class CancelForm(FlaskForm):
    cancel_reason = StringField(_l("Reason"), validators=[Length(max=500)])


class RefundForm(FlaskForm):
    """A refund in the order currency's major units (``12.50``); the view converts it."""

    amount = DecimalField(
        _l("Amount"),
        places=None,
        validators=[InputRequired()],
        render_kw={"inputmode": "decimal"},
    )
    refund_reason = StringField(_l("Reason"), validators=[Length(max=500)])

    def validate_amount(self, field: DecimalField) -> None:
        if field.data is not None and field.data <= 0:
            raise ValidationError(_("Enter an amount above zero."))


class AttachForm(FlaskForm):
    attach_ref = StringField(
        _l("Customer (id or email)"), validators=[DataRequired(), Length(max=254)]
    )
