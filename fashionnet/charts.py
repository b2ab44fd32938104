"""Altair chart builders: tidy DataFrame in, ``alt.Chart`` out. Pure, so tests read them via ``to_dict()``.

Colours: blue/orange is the diverging pair that colour-blind readers tell apart; every colour scale is
symmetric around zero with a legend, and every mark has a tooltip with the exact numbers.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from fashionnet.data import CLASSES

ROLE_COLOURS = {"predicted": "#e66101", "true class": "#5e3c99", "predicted and true": "#1b7837", "other": "#9e9e9e"}
DIVERGING = "blueorange"  # colour-blind safe; negative blue, positive orange


def probabilities(frame: pd.DataFrame, dark: bool = False) -> alt.Chart:
    """Ten horizontal bars, official class order, predicted and true class coloured and named in the legend.

    ``dark``: the page's theme is dark, so the value labels beside the bars are drawn light.
    """
    roles = [r for r in ROLE_COLOURS if r in set(frame["role"])]
    base = alt.Chart(frame).encode(
        y=alt.Y("class:N", sort=list(CLASSES), title=None, axis=alt.Axis(labelLimit=200, labelFontSize=13, labelOverlap=False)),
        x=alt.X("probability:Q", title="probability", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
        tooltip=[
            alt.Tooltip("class:N"),
            alt.Tooltip("probability:Q", format=".4f"),
            alt.Tooltip("logit:Q", format=".4f"),
            alt.Tooltip("role:N"),
        ],
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "role:N",
            scale=alt.Scale(domain=roles, range=[ROLE_COLOURS[r] for r in roles]),
            legend=alt.Legend(title=None, orient="bottom"),
        )
    )
    text_colour = "#fafafa" if dark else "#31333f"  # Streamlit's own text colours of each theme
    labels = base.mark_text(align="left", dx=4, fontSize=13, color=text_colour).encode(text=alt.Text("probability:Q", format=".1%"))
    return (bars + labels).properties(height=320)


def w3_heatmap(frame: pd.DataFrame, value: str = "change", title: str = "change in W3", selectable: bool = False) -> alt.Chart:
    """A 64x64 heatmap of one column of ``frame`` (row, column, before, after, change[, gradient]).

    ``selectable``: a click picks an entry (selection parameter "entry", fields row and column).
    """
    limit = float(frame[value].abs().max()) or 1e-12  # symmetric around zero, even when nothing moved
    tooltip = [
        alt.Tooltip("row:O"),
        alt.Tooltip("column:O"),
        alt.Tooltip("before:Q", format=".6f"),
        alt.Tooltip("after:Q", format=".6f"),
        alt.Tooltip("change:Q", format="+.7f"),
    ]
    if "gradient" in frame:
        tooltip.append(alt.Tooltip("gradient:Q", format="+.3e"))
    chart = (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("column:O", title="column j (layer-2 unit)", axis=alt.Axis(values=list(range(0, 64, 8)), labelAngle=0)),
            y=alt.Y("row:O", title="row i (layer-3 unit)", axis=alt.Axis(values=list(range(0, 64, 8)))),
            color=alt.Color(
                f"{value}:Q",
                scale=alt.Scale(scheme=DIVERGING, domain=[-limit, limit], domainMid=0),
                legend=alt.Legend(title=title, format=".2e" if value == "gradient" else ".4f", orient="right"),
            ),
            tooltip=tooltip,
        )
        .properties(height=384, width="container")
    )
    if selectable:
        entry = alt.selection_point(name="entry", fields=["row", "column"], on="click", clear="dblclick")
        chart = chart.add_params(entry).encode(opacity=alt.condition(entry, alt.value(1.0), alt.value(0.3)))
    return chart


def vector_bars(frame: pd.DataFrame, title: str) -> alt.Chart:
    """One 64-unit vector (unit, value) as bars, negative blue and positive orange, zero line visible."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("unit:O", title="unit", axis=alt.Axis(values=list(range(0, 64, 8)), labelAngle=0)),
            y=alt.Y("value:Q", title=title),
            color=alt.condition("datum.value < 0", alt.value("#2166ac"), alt.value("#e66101")),
            tooltip=[alt.Tooltip("unit:O"), alt.Tooltip("value:Q", format="+.4e")],
        )
        .properties(height=160, width="container")
    )


def histograms(frame: pd.DataFrame) -> alt.Chart:
    """Pre-binned activation histograms (preset, layer, from, to, share), one panel per layer and preset."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("from:Q", title="unit output", bin="binned"),
            x2="to:Q",
            y=alt.Y("share:Q", title="share of outputs", axis=alt.Axis(format=".0%")),
            color=alt.Color("preset:N", scale=alt.Scale(domain=["Lesson", "Modern"], range=["#5e3c99", "#e66101"]), legend=None),
            tooltip=[
                alt.Tooltip("preset:N"),
                alt.Tooltip("layer:N"),
                alt.Tooltip("from:Q", format=".3f"),
                alt.Tooltip("to:Q", format=".3f"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(height=110, width=230)  # narrow enough for a phone: the pages show one preset per column
        .facet(row=alt.Row("layer:N", title=None), column=alt.Column("preset:N", title=None))
        .resolve_scale(x="independent")
    )


def class_changes(frame: pd.DataFrame) -> alt.Chart:
    """Change of each class's mean true-class probability (class, before, after, change), diverging at zero."""
    limit = float(frame["change"].abs().max()) or 1e-9
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("class:N", sort=list(CLASSES), title=None, axis=alt.Axis(labelOverlap=False, labelLimit=200)),
            x=alt.X(
                "change:Q", title="change of mean P(true class)", scale=alt.Scale(domain=[-limit, limit]), axis=alt.Axis(format="+.1%")
            ),
            color=alt.Color(
                "change:Q",
                scale=alt.Scale(scheme=DIVERGING, domain=[-limit, limit], domainMid=0),
                legend=alt.Legend(title="change", format="+.2%"),
            ),
            tooltip=[
                alt.Tooltip("class:N"),
                alt.Tooltip("before:Q", format=".2%"),
                alt.Tooltip("after:Q", format=".2%"),
                alt.Tooltip("change:Q", format="+.3%"),
            ],
        )
        .properties(height=320, width="container")
    )


def claim_scatter(frame: pd.DataFrame) -> alt.Chart:
    """True-class probability before the step against the update's size, one colour per optimizer."""
    return (
        alt.Chart(frame)
        .mark_circle(size=28, opacity=0.6)
        .encode(
            x=alt.X("p_true:Q", title="probability of the true class before the step", axis=alt.Axis(format=".0%")),
            y=alt.Y("update size:Q", title="size of the update (L2 norm, all weights)", scale=alt.Scale(type="log")),
            color=alt.Color(
                "optimizer:N", scale=alt.Scale(domain=["sgd", "adam"], range=["#2166ac", "#e66101"]), legend=alt.Legend(title=None)
            ),
            tooltip=[
                alt.Tooltip("optimizer:N"),
                alt.Tooltip("test index:Q"),
                alt.Tooltip("p_true:Q", format=".2%"),
                alt.Tooltip("update size:Q", format=".4g"),
            ],
        )
        .properties(height=380, width="container")
    )
