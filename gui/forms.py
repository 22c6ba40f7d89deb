"""Forms generated from declared parameters, and input fields that flag bad input in place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6 import QtCore, QtWidgets

from memlab.gui.labels import label_with_unit, readable_label
from memlab.gui.units import QuantityError, example_text, format_quantity, parse_quantity
from memlab.procedures import Parameter, ParameterError, Procedure

INVALID_STYLE = "QLineEdit[invalid=\"true\"], QComboBox[invalid=\"true\"] {border: 2px solid #d32f2f; background: #fdecea;}"


def set_invalid(widget: QtWidgets.QWidget, message: str | None, help_text: str = "") -> None:
    """Mark ``widget`` as holding bad input (red frame, message in its tooltip), or clear it."""
    widget.setProperty("invalid", message is not None)
    widget.setToolTip(f"{help_text}\n\n⚠ {message}".strip() if message else help_text)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class QuantityField(QtWidgets.QLineEdit):
    """A number with its unit, typed with or without an SI prefix: "100 mV", "0.1", "100m".

    ``check`` (optional) validates the parsed value (e.g. against the bench's safety limits) and
    raises ValueError with a message naming what is allowed. :meth:`value` returns None while the
    text is invalid; the field shows why in red.
    """

    value_changed = QtCore.Signal()

    def __init__(self, unit: str = "", value: float | None = None, *, integer: bool = False,
                 check: Callable[[float], Any] | None = None, help_text: str = "",
                 optional: bool = False, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.unit, self.integer, self.check, self.help_text, self.optional = unit, integer, check, help_text, optional
        self.error: str | None = None
        self.setPlaceholderText(example_text(unit, value, integer) if not optional else "none")
        self.setStyleSheet(INVALID_STYLE)
        self.textChanged.connect(self._validate)
        self.set_value(value)

    def set_value(self, value: float | None) -> None:
        if value is None:
            self.setText("")
        elif self.integer:
            self.setText(str(int(value)))
        else:
            self.setText(format_quantity(float(value), self.unit, digits=6))
        self._validate()

    def _parse(self) -> float | None:
        text = self.text().strip()
        if not text:
            if self.optional:
                return None
            raise QuantityError("a value is required")
        number = parse_quantity(text, self.unit)
        if self.integer:
            if number != int(number):
                raise QuantityError(f"{text!r} is not a whole number")
            return int(number)
        return number

    def _validate(self) -> None:
        try:
            value = self._parse()
            if value is not None and self.check is not None:
                self.check(value)
            self.error = None
        except (ValueError, ArithmeticError) as exc:
            self.error = str(exc)
        set_invalid(self, self.error, self.help_text)
        self.value_changed.emit()

    def value(self) -> float | None:
        """The value in SI base units, or None if the field is empty (optional) or invalid."""
        if self.error is not None:
            return None
        return self._parse()

    def flag(self, message: str | None) -> None:
        """Show an error found elsewhere (e.g. a check across parameters); None shows the
        field's own state again."""
        set_invalid(self, message or self.error, self.help_text)


def parameter_tooltip(param: Parameter) -> str:
    lines = [f"{label_with_unit(param)} ({param.name})"]
    if param.help:
        lines.append(param.help)
    lines.append(f"Allowed: {param.allowed()}")
    lines.append(f"Default: {param.default if param.default is not None else 'none'}")
    return "\n".join(lines)


class ParameterForm(QtWidgets.QWidget):
    """The input form of one procedure, generated from its declared parameters.

    Numbers get a :class:`QuantityField` (units and SI prefixes, bounds checked as typed), choices
    a combo box, flags a check box, text a line edit. Every change re-validates the whole set by
    making the procedure (so checks between parameters run too) and flags the field concerned.
    """

    changed = QtCore.Signal()

    def __init__(self, procedure: type[Procedure], check: Callable[[Procedure], None] | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.procedure = procedure
        self.check = check  # e.g. the procedure's own check against the bench's limits and chip
        self.fields: dict[str, QtWidgets.QWidget] = {}
        self.error: str | None = None
        self.field_errors: dict[str, QtWidgets.QLabel] = {}
        layout = QtWidgets.QFormLayout(self)
        layout.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)
        layout.setContentsMargins(0, 0, 0, 0)
        for param in procedure.parameters:
            field = self._make_field(param)
            field.setObjectName(f"param_{param.name}")
            self.fields[param.name] = field
            label = QtWidgets.QLabel(label_with_unit(param))
            label.setObjectName(f"label_{param.name}")
            label.setToolTip(parameter_tooltip(param))
            label.setBuddy(field)
            layout.addRow(label, field)
            # the error shows right under its field, where the eye is, not at the foot of a long form
            error = QtWidgets.QLabel()
            error.setObjectName(f"error_{param.name}")
            error.setWordWrap(True)
            error.setStyleSheet("color: #d32f2f; font-size: 11px;")
            error.setVisible(False)
            self.field_errors[param.name] = error
            layout.addRow("", error)
        self.message = QtWidgets.QLabel()
        self.message.setObjectName("form_message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #d32f2f;")
        layout.addRow(self.message)
        self._validate()

    def _make_field(self, param: Parameter) -> QtWidgets.QWidget:
        tip = parameter_tooltip(param)
        if param.choices is not None:
            box = QtWidgets.QComboBox()
            for choice in param.choices:
                box.addItem(str(choice), choice)
            box.setCurrentIndex(list(param.choices).index(param.default) if param.default in param.choices else 0)
            box.setProperty("help", tip)
            box.setToolTip(tip)
            box.setStyleSheet(INVALID_STYLE)
            box.currentIndexChanged.connect(self._validate)
            return box
        if param.kind is bool:
            check = QtWidgets.QCheckBox()
            check.setChecked(bool(param.default))
            check.setProperty("help", tip)
            check.setToolTip(tip)
            check.toggled.connect(self._validate)
            return check
        if param.kind in (int, float):
            field = QuantityField(param.unit, param.default, integer=param.kind is int,
                                  check=param.validate, help_text=tip, optional=param.optional)
            field.value_changed.connect(self._validate)
            return field
        line = QtWidgets.QLineEdit("" if param.default is None else str(param.default))
        line.setProperty("help", tip)
        line.setToolTip(tip)
        line.setStyleSheet(INVALID_STYLE)
        line.textChanged.connect(self._validate)
        return line

    # -- values ------------------------------------------------------------------------------
    def raw_values(self) -> dict[str, Any]:
        """Field contents converted as far as each field can (None for a bad number)."""
        values: dict[str, Any] = {}
        for name, field in self.fields.items():
            if isinstance(field, QuantityField):
                values[name] = field.value()
            elif isinstance(field, QtWidgets.QComboBox):
                values[name] = field.currentData()
            elif isinstance(field, QtWidgets.QCheckBox):
                values[name] = field.isChecked()
            else:
                values[name] = field.text()
        return values

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Fill fields from ``values`` (unknown names are ignored; text from settings accepted)."""
        for name, value in values.items():
            field = self.fields.get(name)
            if field is None:
                continue
            field.blockSignals(True)
            try:
                if isinstance(field, QuantityField):
                    try:
                        field.set_value(None if value in (None, "") else float(value))
                    except (TypeError, ValueError):
                        field.setText(str(value))
                        field._validate()
                elif isinstance(field, QtWidgets.QComboBox):
                    index = field.findData(value)
                    if index < 0:
                        index = field.findText(str(value))
                    if index >= 0:
                        field.setCurrentIndex(index)
                elif isinstance(field, QtWidgets.QCheckBox):
                    field.setChecked(value in (True, "true", "True", "1", 1))
                else:
                    field.setText("" if value is None else str(value))
            finally:
                field.blockSignals(False)
        self._validate()

    def set_text(self, name: str, text: str) -> None:
        """Type ``text`` into field ``name`` as a user would."""
        field = self.fields[name]
        if isinstance(field, QtWidgets.QLineEdit):
            field.setText(text)
        else:
            raise TypeError(f"field {name!r} is a {type(field).__name__}, not a text field")

    def has(self, name: str) -> bool:
        return name in self.fields

    def _validate(self) -> None:
        self.error = None
        for field in self.fields.values():  # clear flags of the previous check across fields
            if isinstance(field, QuantityField):
                field.flag(None)
            else:
                set_invalid(field, None, field.property("help") or "")
        for error_label in self.field_errors.values():
            error_label.setVisible(False)
        bad = [name for name, f in self.fields.items() if isinstance(f, QuantityField) and f.error]
        for name in bad:
            self._show_field_error(name, self.fields[name].error)
        if bad:
            self.error = f"{readable_label(self.procedure.parameter(bad[0]))}: {self.fields[bad[0]].error}"
        else:
            try:
                made = self.procedure(**self.raw_values())
                if self.check is not None:
                    self.check(made)
            except ParameterError as exc:
                self.error = str(exc)
                field = self.fields.get(exc.name)
                if isinstance(field, QuantityField):
                    field.flag(str(exc))
                elif field is not None:
                    set_invalid(field, str(exc), field.property("help") or "")
                if field is not None:
                    self._show_field_error(exc.name, str(exc))
        # the foot message only for what belongs to no single field
        foot = self.error if self.error and not any(e.isVisibleTo(self) for e in self.field_errors.values()) else ""
        self.message.setText(foot or "")
        self.message.setVisible(bool(foot))
        self.changed.emit()

    def _show_field_error(self, name: str, text: str | None) -> None:
        label = self.field_errors.get(name)
        if label is not None and text:
            label.setText(text)
            label.setToolTip(text)
            label.setVisible(True)

    def show_error(self, name: str, text: str) -> None:
        """Flag ``name`` with an error found outside the form (e.g. when starting the run)."""
        field = self.fields.get(name)
        if isinstance(field, QuantityField):
            field.flag(text)
        elif field is not None:
            set_invalid(field, text, field.property("help") or "")
        if field is not None:
            self._show_field_error(name, text)
        else:
            self.message.setText(text)
            self.message.setVisible(True)

    def revalidate(self) -> None:
        """Check again (e.g. another bench, with other limits, was connected)."""
        self._validate()

    @property
    def valid(self) -> bool:
        return self.error is None

    def make(self) -> Procedure:
        """The procedure with the form's values; raises ParameterError if any is refused."""
        return self.procedure(**self.raw_values())


def check_instrument_limits(procedure: Procedure, bench: Any) -> None:
    """Refuse, before the run, a value the connected instrument cannot do (not only the bench's
    limits): e.g. a pulse narrower than the pulse generator's minimum width. The ranges are the
    drivers' own declared ones, so the message names the instrument model and its limit."""
    if bench is None:
        return
    smu = getattr(bench, "smu", None)
    smu_max_v = getattr(smu, "max_voltage_v", None) if smu is not None and "smu" in procedure.requires else None
    if isinstance(smu_max_v, (int, float)):
        model = getattr(smu, "model", type(smu).__name__)
        for param in procedure.parameters:
            value = procedure.values.get(param.name)
            if param.unit == "V" and isinstance(value, (int, float)) and abs(value) > smu_max_v:
                raise ParameterError(param.name, value, f"|value| <= {smu_max_v:g} V (the {model}'s range)")
    pulser = getattr(bench, "pulser", None)
    if pulser is not None and "pulser" in procedure.requires:
        model = getattr(pulser, "model", type(pulser).__name__)
        for attribute, suffix, what in (("width_range_s", "width_s", "pulse width"),
                                        ("period_range_s", "period_s", "pulse period"),
                                        ("edge_range_s", "edge_s", "edge time")):
            low_high = getattr(pulser, attribute, None)
            if low_high is None:
                continue
            low, high = low_high
            for param in procedure.parameters:
                # light pulses are the laser's, not the pulse generator's
                if not param.name.endswith(suffix) or param.name.startswith("light"):
                    continue
                value = procedure.values.get(param.name)
                if isinstance(value, (int, float)) and not low <= value <= high:
                    raise ParameterError(param.name, value,
                                         f"{format_quantity(low, 's')} .. {format_quantity(high, 's')} "
                                         f"(the {model}'s {what} range)")
