import re
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError

LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s*(?:~|\.\.|至)\s*(\d{4}-\d{2}-\d{2}))?\s*(.*)$")
MAX_RANGE_DAYS = 31


def parse_days(text: str) -> list[tuple[date, str]]:
    """One entry a line: `2027-02-06 春节` or a range `2027-02-06 ~ 2027-02-13 春节`."""
    days: list[tuple[date, str]] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = LINE.match(line)
        if not match:
            raise ValidationError(_l("Line %(n)d: start with a date like 2027-02-06.", n=number))
        try:
            first = date.fromisoformat(match.group(1))
            last = date.fromisoformat(match.group(2)) if match.group(2) else first
        except ValueError:
            raise ValidationError(_l("Line %(n)d: that date does not exist.", n=number)) from None
        if last < first or (last - first).days > MAX_RANGE_DAYS:
            raise ValidationError(_l("Line %(n)d: the range is backwards or longer than a month.", n=number))
        name = match.group(3).strip()[:100]
        current = first
        while current <= last:
            days.append((current, name))
            current += timedelta(days=1)
    if len({d for d, _n in days}) != len(days):
        raise ValidationError(_l("A date is listed twice."))
    return days


class HolidayYearForm(FlaskForm):
    year = IntegerField(_l("Year"), validators=[DataRequired(_l("This field is required.")),
                                                NumberRange(2000, 2100, _l("Enter a year between 2000 and 2100."))])
    source = StringField(_l("Announcement"), validators=[DataRequired(_l("This field is required.")), Length(max=300)],
                         description=_l("Title and number of the State Council notice the days come from."))
    off_days = TextAreaField(_l("Days off"), render_kw={"rows": 10},
                             description=_l("One line each: a date or a range, then the holiday, e.g. 2027-02-06 ~ 2027-02-13 春节"))
    work_days = TextAreaField(_l("Adjusted working days"), render_kw={"rows": 4},
                              description=_l("Weekend days that are working days, e.g. 2027-02-14 春节调休"))

    def validate_off_days(self, field):
        self.parsed_off = parse_days(field.data)

    def validate_work_days(self, field):
        self.parsed_work = parse_days(field.data)
