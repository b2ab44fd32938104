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


def w3_heatmap(frame: pd.DataFrame, value: str = "change", title: str = "change in W3") -> alt.Chart:
    """A 64x64 heatmap of one column of ``frame`` (row, column, before, after, change)."""
    limit = float(frame[value].abs().max()) or 1e-12  # symmetric around zero, even when nothing moved
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("column:O", title="column j (layer-2 unit)", axis=alt.Axis(values=list(range(0, 64, 8)), labelAngle=0)),
            y=alt.Y("row:O", title="row i (layer-3 unit)", axis=alt.Axis(values=list(range(0, 64, 8)))),
            color=alt.Color(
                f"{value}:Q",
                scale=alt.Scale(scheme=DIVERGING, domain=[-limit, limit], domainMid=0),
                legend=alt.Legend(title=title, format=".4f", orient="right"),
            ),
            tooltip=[
                alt.Tooltip("row:O"),
                alt.Tooltip("column:O"),
                alt.Tooltip("before:Q", format=".6f"),
                alt.Tooltip("after:Q", format=".6f"),
                alt.Tooltip("change:Q", format="+.7f"),
            ],
        )
        .properties(height=384, width="container")
    )
