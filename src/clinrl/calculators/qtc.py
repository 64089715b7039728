"""Corrected QT interval: Bazett, Fridericia, Framingham, Hodges, Rautaharju.

All take the measured QT (msec) and the heart rate (beats/min); RR (seconds) = 60 / heart rate.
"""

from __future__ import annotations

from clinrl.calculators.base import Calculator, Field, Values, fmt, register

QT = Field("qt", "quantity", "ms", minimum=100, maximum=1000, help="measured QT interval (msec)",
           entity_keys=("QT interval",))
HEART_RATE = Field("heart_rate", "quantity", "/min", minimum=10, maximum=350, help="heart rate (beats/min)",
                   entity_keys=("Heart Rate or Pulse", "heart rate", "pulse"))


class _QTc(Calculator):
    category, output_kind, unit = "physical", "decimal", "msec"
    fields = (QT, HEART_RATE)
    statement = ""

    def correct(self, qt: float, rr: float, hr: float) -> tuple[float, str]:
        raise NotImplementedError

    def formula(self, v: Values):
        rr = 60.0 / v["heart_rate"]
        value, arithmetic = self.correct(v["qt"], rr, v["heart_rate"])
        return value, (
            f"{self.statement}\nQT {v.text('qt')}; heart rate {v.text('heart_rate')}; RR = 60 / heart rate = "
            f"60 / {fmt(v['heart_rate'])} = {fmt(rr)} s.\nQTc = {arithmetic} = {fmt(value)} msec.")


@register
class QTcBazett(_QTc):
    id, slug, name = 11, "qtc_bazett", "QTc Bazett Calculator"
    reference = "Bazett HC. An analysis of the time-relations of electrocardiograms. Heart. 1920;7:353-370."
    statement = "Bazett: QTc = QT / sqrt(RR), QT in msec and RR in seconds."

    def correct(self, qt, rr, hr):
        value = qt / rr ** 0.5
        return value, f"{fmt(qt)} / sqrt({fmt(rr)})"


@register
class QTcFridericia(_QTc):
    id, slug, name = 56, "qtc_fridericia", "QTc Fridericia Calculator"
    reference = ("Fridericia LS. Die Systolendauer im Elektrokardiogramm bei normalen Menschen und bei "
                 "Herzkranken. Acta Med Scand. 1920;53:469-486.")
    statement = "Fridericia: QTc = QT / RR^(1/3), QT in msec and RR in seconds."

    def correct(self, qt, rr, hr):
        value = qt / rr ** (1 / 3)
        return value, f"{fmt(qt)} / {fmt(rr)}^(1/3)"


@register
class QTcFramingham(_QTc):
    id, slug, name = 57, "qtc_framingham", "QTc Framingham Calculator"
    reference = ("Sagie A, Larson MG, Goldberg RJ, Bengtson JR, Levy D. An improved method for adjusting the "
                 "QT interval for heart rate (the Framingham Heart Study). Am J Cardiol. 1992;70:797-801.")
    statement = "Framingham: QTc = QT + 154 x (1 - RR), QT in msec and RR in seconds."

    def correct(self, qt, rr, hr):
        value = qt + 154 * (1 - rr)
        return value, f"{fmt(qt)} + 154 x (1 - {fmt(rr)})"


@register
class QTcHodges(_QTc):
    id, slug, name = 58, "qtc_hodges", "QTc Hodges Calculator"
    reference = ("Hodges M, Salerno D, Erlien D. Bazett's QT correction reviewed: evidence that a linear QT "
                 "correction for heart rate is better. J Am Coll Cardiol. 1983;1:694.")
    statement = "Hodges: QTc = QT + 1.75 x (heart rate - 60), QT in msec, heart rate = 60 / RR."

    def correct(self, qt, rr, hr):
        value = qt + 1.75 * (60 / rr - 60)
        return value, f"{fmt(qt)} + 1.75 x (60 / {fmt(rr)} - 60)"


@register
class QTcRautaharju(_QTc):
    id, slug, name = 59, "qtc_rautaharju", "QTc Rautaharju Calculator"
    reference = ("Rautaharju PM, Warren JW, Calhoun HP. Estimation of QT prolongation. A persistent, avoidable "
                 "error in computer electrocardiography. J Electrocardiol. 1990;23 Suppl:111-117.")
    statement = "Rautaharju: QTc = QT x (120 + heart rate) / 180, QT in msec."

    def correct(self, qt, rr, hr):
        value = qt * (120 + hr) / 180
        return value, f"{fmt(qt)} x (120 + {fmt(hr)}) / 180"
