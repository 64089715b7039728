"""Pregnancy dating from the last menstrual period (LMP): due date, conception date, gestational age.

Naegele's rule assumes a 28-day cycle with ovulation on day 14; for other cycle lengths ovulation
(and so the due date and conception) shifts by (cycle length - 28) days, since the luteal phase is
constant at about 14 days. clinrl applies that shift in both directions. MedCalc-Bench v1.0 adds
|cycle - 28| days to the due date even for short cycles and ignores the cycle length for the conception
date; those rows are listed in :mod:`clinrl.tasks.medcalc.known_defects`.
"""

from __future__ import annotations

import datetime as dt

from clinrl.calculators.base import Calculator, CalculatorInputError, Field, Values, register

LMP = Field("lmp", "date", help="first day of the last menstrual period",
            entity_keys=("Last menstrual date", "last menstrual period", "LMP", "menstrual_date"))
CYCLE = Field("cycle_length", "int", required=False, default=28, minimum=14, maximum=60,
              help="menstrual cycle length in days (28 if not given)", entity_keys=("cycle length",))
NAEGELE_REFERENCE = ("Naegele FC. Lehrbuch der Geburtshülfe. 1830; cycle-length adjustment: Mittendorf R, "
                     "Williams MA, Berkey CS, Cotter PF. The length of uncomplicated human gestation. Obstet "
                     "Gynecol. 1990;75:929-932; ACOG Committee Opinion 700 (2017), Methods for estimating the "
                     "due date.")


def _us(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def _shift_text(shift: int) -> str:
    if shift == 0:
        return "the cycle is 28 days, so no adjustment"
    verb = "add" if shift > 0 else "subtract"
    return f"{verb} {abs(shift)} day{'s' if abs(shift) != 1 else ''} (cycle length - 28 = {shift})"


@register
class EstimatedDueDate(Calculator):
    id, slug, name = 13, "estimated_due_date", "Estimated Due Date"
    category, output_kind, unit = "date", "date", ""
    reference = NAEGELE_REFERENCE
    fields = (LMP, CYCLE)

    def formula(self, v: Values):
        base = v["lmp"] + dt.timedelta(days=280)
        shift = v["cycle_length"] - 28
        due = base + dt.timedelta(days=shift)
        return due, (
            "Naegele's rule: due date = LMP + 280 days (40 weeks), then + (cycle length - 28) days.\n"
            f"LMP {_us(v['lmp'])}; cycle length {v['cycle_length']} days.\n"
            f"LMP + 40 weeks = {_us(base)}; {_shift_text(shift)}: due date {_us(due)}.")


@register
class EstimatedConceptionDate(Calculator):
    id, slug, name = 68, "estimated_conception_date", "Estimated of Conception"
    category, output_kind, unit = "date", "date", ""
    reference = NAEGELE_REFERENCE + " Ovulation ~14 days before the next menses (constant luteal phase)."
    fields = (LMP, CYCLE)

    def formula(self, v: Values):
        base = v["lmp"] + dt.timedelta(days=14)
        shift = v["cycle_length"] - 28
        conception = base + dt.timedelta(days=shift)
        return conception, (
            "Conception (ovulation) = LMP + 14 days, then + (cycle length - 28) days, i.e. LMP + cycle length "
            "- 14 days.\n"
            f"LMP {_us(v['lmp'])}; cycle length {v['cycle_length']} days.\n"
            f"LMP + 2 weeks = {_us(base)}; {_shift_text(shift)}: conception {_us(conception)}.")


@register
class EstimatedGestationalAge(Calculator):
    id, slug, name = 69, "estimated_gestational_age", "Estimated Gestational Age"
    category, output_kind, unit = "date", "gestational_age", "(weeks, days)"
    reference = "ACOG Committee Opinion 700 (2017), Methods for estimating the due date: gestational age from the LMP."
    fields = (LMP, Field("current_date", "date", help="today's date", entity_keys=("Current Date", "today")))

    def formula(self, v: Values):
        days = (v["current_date"] - v["lmp"]).days
        if days < 0:
            raise CalculatorInputError(
                f"the current date {_us(v['current_date'])} is before the LMP {_us(v['lmp'])}", field="current_date")
        weeks, rest = divmod(days, 7)
        return (weeks, rest), (
            "Gestational age = current date - LMP, in whole weeks and days.\n"
            f"LMP {_us(v['lmp'])}; current date {_us(v['current_date'])}.\n"
            f"{days} days = {weeks} weeks and {rest} days.")
