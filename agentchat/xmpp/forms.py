"""XEP-0004 data forms as values: build a form element, read a submitted one (pure).

Why not slixmpp's Form stanza: these are plain values the command logic can build and unit tests
can compare, with no stanza machinery behind them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Literal

import attrs

XDATA_NS = "jabber:x:data"

FieldType = Literal["boolean", "fixed", "hidden", "list-single", "list-multi", "text-single",
                    "text-multi", "text-private", "jid-single"]
FormType = Literal["form", "result"]


@attrs.frozen
class Option:
    value: str
    label: str = ""


@attrs.frozen
class Field:
    var: str
    type: FieldType = "text-single"
    label: str = ""
    values: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    required: bool = False
    desc: str = ""


@attrs.frozen
class Form:
    type: FormType = "form"
    title: str = ""
    instructions: str = ""
    fields: tuple[Field, ...] = ()


class FormError(ValueError):
    """A submitted form we cannot read."""


def _q(tag: str) -> str:
    return f"{{{XDATA_NS}}}{tag}"


def form_element(form: Form) -> ET.Element:
    x = ET.Element(_q("x"), {"type": form.type})
    if form.title:
        ET.SubElement(x, _q("title")).text = form.title
    for line in form.instructions.splitlines():
        ET.SubElement(x, _q("instructions")).text = line
    for field in form.fields:
        attrs_: dict[str, str] = {"var": field.var, "type": field.type}
        if field.label:
            attrs_["label"] = field.label
        el = ET.SubElement(x, _q("field"), attrs_)
        if field.desc:
            ET.SubElement(el, _q("desc")).text = field.desc
        if field.required:
            ET.SubElement(el, _q("required"))
        for option in field.options:
            opt = ET.SubElement(el, _q("option"), {"label": option.label} if option.label else {})
            ET.SubElement(opt, _q("value")).text = option.value
        values = field.values
        if field.type == "text-multi" and len(values) == 1:
            values = tuple(values[0].split("\n"))  # one <value/> per line, as the XEP says
        for value in values:
            ET.SubElement(el, _q("value")).text = value
    return x


def find_form(parent: ET.Element) -> ET.Element | None:
    return parent.find(_q("x"))


def submitted_values(x: ET.Element) -> dict[str, list[str]]:
    """``var -> values`` of a form of type submit; raises FormError otherwise."""
    if x.tag != _q("x") or x.get("type") != "submit":
        raise FormError(f"expected a submitted form, got type {x.get('type')!r}")
    values: dict[str, list[str]] = {}
    for field in x.findall(_q("field")):
        var = field.get("var")
        if var:
            values[var] = [v.text or "" for v in field.findall(_q("value"))]
    return values


def single(values: dict[str, list[str]], var: str) -> str:
    """The one value of a list-single/text-single field ("" when absent)."""
    got = values.get(var) or []
    return got[0].strip() if got else ""


def multi_line(values: dict[str, list[str]], var: str) -> str:
    """A text-multi field joined back into text."""
    return "\n".join(values.get(var) or []).strip()
