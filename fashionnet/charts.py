"""Altair chart builders: tidy DataFrame in, ``alt.Chart`` out. Pure, so tests read them via ``to_dict()``.

Colours: blue/orange is the diverging pair that colour-blind readers tell apart; every colour scale is
symmetric around zero with a legend, and every mark has a tooltip with the exact numbers.
"""

from __future__ import annotations

import functools
import json

import altair as alt
import numpy as np
import pandas as pd

from fashionnet.data import CLASSES

ROLE_COLOURS = {"predicted": "#e66101", "true class": "#5e3c99", "predicted and true": "#1b7837", "other": "#9e9e9e"}
DIVERGING = "blueorange"  # colour-blind safe; negative blue, positive orange


def scale_legend(title: str | None, fmt: str, values: list[float], **kwargs) -> alt.Legend:
    """A colour scale's legend as a few labelled squares, not a gradient bar. Vega's SVG gradient is painted
    through ``url(<the page's address>#gradient_0)``: once the app rewrites the address bar (every step and
    run does) without redrawing the chart, the reference points at another document and the bar disappears,
    leaving its labels alone (found on the confusion matrix after a run; tests/test_browser_beyond.py)."""
    return alt.Legend(
        title=title, format=fmt, type="symbol", values=values, symbolType="square", symbolSize=180, symbolStrokeWidth=0, **kwargs
    )


def probabilities(frame: pd.DataFrame, dark: bool = False) -> alt.Chart:
    """Ten horizontal bars, official class order, predicted and true class coloured and named in the legend.

    ``dark``: the page's theme is dark, so the value labels beside the bars are drawn light.
    """
    roles = [r for r in ROLE_COLOURS if r in set(frame["role"])]
    base = alt.Chart(frame).encode(
        y=alt.Y(
            "class:N",
            sort=list(CLASSES),
            title=None,
            # labelFlush off: else the first label is pushed inside the axis, above its own bar
            axis=alt.Axis(labelLimit=200, labelFontSize=13, labelOverlap=False, labelFlush=False),
        ),
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


LIVE_DATA = "rows"  # the name of the dataset a "live" spec (below) reads


def _symmetric_ends(field: str, channels: tuple[str, ...], floor: float) -> alt.Chart:
    """An invisible layer: two points at -m and +m, m = max |field| (at least ``floor``), computed by Vega from the data.

    Layered over a chart whose scales for ``channels`` have no fixed domain, it makes those scales symmetric
    around zero exactly as a literal ``domain=[-m, m]`` would, without writing m into the spec.
    """
    return (
        alt.Chart()
        .transform_calculate(magnitude=f"abs(datum[{json.dumps(field)}])")
        .transform_aggregate(top="max(magnitude)")
        .transform_calculate(hi=f"max(datum.top, {floor!r})", lo=f"-max(datum.top, {floor!r})")
        .transform_fold(["lo", "hi"], as_=["end", field])
        .mark_point(size=0, opacity=0, filled=True)  # filled: a stroked point would turn a gradient legend into symbols
        .encode(**{channel: f"{field}:Q" for channel in channels})
    )


def _live(chart: alt.Chart, field: str, channels: tuple[str, ...], floor: float, aria: bool) -> str:
    """A unit ``chart`` as the JSON of a Vega-Lite spec that reads the dataset :data:`LIVE_DATA` and takes the
    symmetric domains of ``channels`` from the data (validated by Altair, once per process)."""
    height = chart.height
    unit = chart.copy(deep=True)
    unit.data = alt.Undefined
    unit.height = unit.width = alt.Undefined
    unit.name = "cells"
    layered = alt.layer(unit, _symmetric_ends(field, channels, floor), data=alt.NamedData(LIVE_DATA))
    layered = layered.properties(height=height, width="container")
    if not aria:
        layered = layered.configure(aria=False)
    spec = layered.to_dict()
    for channel in channels:
        encoding = spec["layer"][0]["encoding"][channel]
        del encoding["scale"]["domain"]
        encoding["scale"]["nice"] = False  # as with the literal domain: Vega-Lite would round a data-driven domain outwards
    spec.get("config", {}).pop("view", None)  # Altair's default theme; Streamlit drops it for Altair charts too
    return json.dumps(spec)


@functools.cache
def _w3_heatmap_live(value: str, title: str, selectable: bool, columns: tuple[str, ...]) -> str:
    template = pd.DataFrame({c: [0.0] for c in columns})
    # aria off: Streamlit draws 4,096 marks on a canvas, where per-mark ARIA labels are never read, only computed.
    return _live(w3_heatmap(template, value, title, selectable), value, ("color",), 1e-12, aria=False)


def w3_heatmap_spec(frame: pd.DataFrame, value: str = "change", title: str = "change in W3", selectable: bool = False) -> dict:
    """:func:`w3_heatmap` (same marks, colours, legend, tooltips, selection) as a Vega-Lite dict for
    ``st.vega_lite_chart``, with ``frame`` as the named dataset :data:`LIVE_DATA`.

    Its spec is the same for every step: the symmetric colour domain comes from the data (see
    :func:`_symmetric_ends`). So from one step to the next the browser only swaps the chart's data instead
    of compiling and building a new Vega view, and the server reuses the spec instead of building and
    validating an Altair chart on every rerun. No per-mark ARIA labels (a canvas has none to read).
    """
    spec = json.loads(_w3_heatmap_live(value, title, selectable, tuple(frame.columns)))
    spec["datasets"] = {LIVE_DATA: _compact(frame)}
    return spec


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """The same numbers in fewer bytes: W3's values are float32 numbers (held as float64 in the frame) and its
    indices are below 128, so they travel as float32 and int8 (about a third of the bytes); any column that
    would not survive that exactly stays as it is."""
    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind == "f" and np.array_equal(values.astype(np.float32), values):
            values = values.astype(np.float32)
        elif values.dtype.kind in "iu" and len(values) and values.min() >= -128 and values.max() <= 127:
            values = values.astype(np.int8)
        columns[name] = values
    return pd.DataFrame(columns, copy=False)


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
                legend=None,  # the x axis says it; and a gradient legend loses its bar once the address changes (scale_legend)
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


@functools.cache
def _class_changes_live() -> str:
    template = pd.DataFrame({"class": list(CLASSES), "before": 0.0, "after": 0.0, "change": 0.0})
    return _live(class_changes(template), "change", ("x", "color"), 1e-9, aria=True)


def class_changes_spec(frame: pd.DataFrame) -> dict:
    """:func:`class_changes` as a Vega-Lite dict whose spec is the same for every step (see :func:`w3_heatmap_spec`)."""
    spec = json.loads(_class_changes_live())
    spec["datasets"] = {LIVE_DATA: frame}
    return spec


def claim_scatter(frame: pd.DataFrame) -> alt.Chart:
    """True-class probability before the step against the update's size, one colour per optimizer."""
    return (
        alt.Chart(frame)
        .mark_circle(size=28, opacity=0.6)
        .encode(
            x=alt.X("p_true:Q", title="probability of the true class before the step", axis=alt.Axis(format=".0%")),
            y=alt.Y("update size:Q", title="size of the update (L2 norm, all weights)", scale=alt.Scale(type="log")),
            color=alt.Color(
                "optimizer:N",
                scale=alt.Scale(domain=["sgd", "adam"], range=["#2166ac", "#e66101"]),
                legend=alt.Legend(title=None, labelExpr="datum.label == 'adam' ? 'Adam' : 'SGD'"),
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


def loss_curve(frame: pd.DataFrame, height: int = 220) -> alt.Chart:
    """A training run's loss (batch, epoch, loss, batches averaged) against the batch number."""
    return (
        alt.Chart(frame)
        .mark_line(point=len(frame) < 40)
        .encode(
            x=alt.X("batch:Q", title="batch"),
            y=alt.Y("loss:Q", title="training loss (batch mean)", scale=alt.Scale(zero=True)),
            tooltip=[
                alt.Tooltip("batch:Q", format=","),
                alt.Tooltip("epoch:Q", format=".2f"),
                alt.Tooltip("loss:Q", format=".4f"),
                alt.Tooltip("batches averaged:Q"),
            ],
        )
        .properties(height=height, width="container")
    )


def percent_format(values) -> str:
    """A d3 percent format with as many decimals as an axis over these values needs for distinct tick labels (its
    ticks are about a fifth of the span apart: a run stopped early measured 19.86-19.97 %, labelled "20%" twice)."""
    span = float(max(values)) - float(min(values)) if len(values) else 1.0
    return ".0%" if span >= 0.05 else ".1%" if span >= 0.005 else ".2%"


def accuracy_lines(frame: pd.DataFrame) -> alt.Chart:
    """Train and test accuracy (epoch, train accuracy, test accuracy) as two labelled lines."""
    long = frame.melt(id_vars=["epoch", "batches"], value_vars=["train accuracy", "test accuracy"], var_name="set", value_name="accuracy")
    axis = alt.Axis(format=percent_format(long["accuracy"]))
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch"),
            y=alt.Y("accuracy:Q", title="accuracy", axis=axis, scale=alt.Scale(zero=False)),
            color=alt.Color("set:N", scale=alt.Scale(domain=["train accuracy", "test accuracy"], range=["#e66101", "#5e3c99"]),
                            legend=alt.Legend(title=None, orient="bottom")),
            tooltip=[alt.Tooltip("set:N"), alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=220, width="container")
    )  # fmt: skip


def confusion_heatmap(frame: pd.DataFrame) -> alt.Chart:
    """The 10x10 confusion matrix (true, predicted, count, share of true class) with counts written in;
    a click selects a cell (selection parameter "cell", fields true and predicted)."""
    cell = alt.selection_point(name="cell", fields=["true", "predicted"], on="click", clear="dblclick")
    base = alt.Chart(frame).encode(
        x=alt.X(
            "predicted:N", sort=list(CLASSES), title="predicted class", axis=alt.Axis(labelAngle=-45, labelLimit=90, labelOverlap=False)
        ),
        y=alt.Y("true:N", sort=list(CLASSES), title="true class", axis=alt.Axis(labelLimit=90, labelOverlap=False)),
    )
    rects = (
        base.mark_rect()
        .encode(
            color=alt.Color("share of true class:Q", scale=alt.Scale(scheme="purples", domain=[0, 1]),
                            legend=scale_legend("share of the true class", ".0%", [0, 0.25, 0.5, 0.75, 1], orient="bottom")),
            opacity=alt.condition(cell, alt.value(1.0), alt.value(0.45)),
            tooltip=[alt.Tooltip("true:N"), alt.Tooltip("predicted:N"), alt.Tooltip("count:Q", format=","),
                     alt.Tooltip("share of true class:Q", format=".1%")],
        )
        .add_params(cell)
    )  # fmt: skip
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("count:Q", format=","),
        color=alt.condition("datum['share of true class'] > 0.5", alt.value("white"), alt.value("#31333f")),
    )
    return (rects + text).properties(height=420, width="container")


# The history's log-like axes label these values (those inside the data's range; format ".6~g": without a precision
# Vega derives one from the tick step and wrote 10 as "1e+1"): a symlog scale's own ticks are
# evenly spaced (0, 1, 2), which leaves a loss of 0.016 or a step's update of 0.04 with nothing to be read against.
LOSS_TICKS = [0] + [float(f"{m}e{e}") for e in range(-2, 9) for m in (1, 2, 5)]  # 0, 0.01, 0.02, 0.05, 0.1 ... 5e8
SIZE_TICKS = [0] + [float(f"1e{e}") for e in range(-2, 13)]  # 0, 0.01, 0.1, 1 ... 1e12 (lr goes up to 1e6)


def _tick_domain(values: pd.Series, ticks: list[float], from_zero: bool) -> list[float]:
    """A scale's domain from one of ``ticks`` at or under the smallest value (0 for bars) to one at or over the
    largest, so that both ends are labelled (a symlog scale is not made "nice": losses of 2.3 under a top label
    of 1 were read against nothing)."""
    finite = values[np.isfinite(values.astype(float))]
    if finite.empty:
        return [ticks[0], ticks[1]]
    top = next((t for t in ticks if t >= finite.max()), ticks[-1])
    bottom = 0.0 if from_zero else max(t for t in ticks if t <= max(finite.min(), 0))
    return [bottom, top]


def timeline(long: pd.DataFrame) -> alt.Chart:
    """The history (point, kind, measure, value, panel, undone): loss before/after and update size per entry."""
    loss_domain = _tick_domain(long.loc[long["panel"] == "loss", "value"], LOSS_TICKS, from_zero=False)
    size_domain = _tick_domain(long.loc[long["panel"] == "update size", "value"], SIZE_TICKS, from_zero=True)
    loss_ticks = [t for t in LOSS_TICKS if loss_domain[0] <= t <= loss_domain[1]]
    size_ticks = [t for t in SIZE_TICKS if size_domain[0] <= t <= size_domain[1]]
    # Both panels over the same points, from the start (0) to the last, half a point of room at each end for the bars
    # (left to Vega, the line's axis ran 1-8 and the bars' 0-9 for the same 8 entries).
    last = int(long["point"].max()) if len(long) else 1
    base = alt.Chart(long).encode(
        x=alt.X("point:Q", title="history point", scale=alt.Scale(domain=[-0.5, last + 0.5], nice=False, zero=False),
                axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("point:Q"), alt.Tooltip("kind:N"), alt.Tooltip("image:N"), alt.Tooltip("class:N"),
                 alt.Tooltip("measure:N"), alt.Tooltip("value:Q", format=".4f"), alt.Tooltip("undone:N")],
    )  # fmt: skip
    loss = (
        base.transform_filter("datum.panel == 'loss'")
        .mark_line(point=True)
        .encode(
            y=alt.Y("value:Q", title="loss (log scale)", scale=alt.Scale(type="symlog", constant=0.01, domain=loss_domain),
                    axis=alt.Axis(values=loss_ticks, format=".6~g")),
            color=alt.Color("measure:N", scale=alt.Scale(domain=["loss before", "loss after"], range=["#e66101", "#5e3c99"]),
                            legend=alt.Legend(title=None, orient="bottom")),
            opacity=alt.condition("datum.undone", alt.value(0.3), alt.value(1.0)),
        )
        .properties(height=180, width="container")
    )  # fmt: skip
    size = (
        base.transform_filter("datum.panel == 'update size'")
        .mark_bar()
        .encode(
            y=alt.Y("value:Q", title="update size (log scale, from 0)", scale=alt.Scale(type="symlog", constant=0.001, domain=size_domain),
                    axis=alt.Axis(values=size_ticks, format=".6~g")),
            color=alt.Color("kind:N", scale=alt.Scale(domain=["one step", "training run"], range=["#1b7837", "#9e9e9e"]),
                            legend=alt.Legend(title=None, orient="bottom")),
            opacity=alt.condition("datum.undone", alt.value(0.3), alt.value(1.0)),
        )
        .properties(height=120, width="container")
    )  # fmt: skip
    return alt.vconcat(loss, size).resolve_scale(color="independent")


def matrix_heatmap(frame: pd.DataFrame, title: str, row_title: str, column_title: str, row_field: str = "row:O") -> alt.Chart:
    """Any weight matrix (row, column, value[, class]) as a heatmap, symmetric colours around zero."""
    limit = float(frame["value"].abs().max()) or 1e-12
    rows = frame[row_field.split(":")[0]].nunique()
    tooltip = [alt.Tooltip(row_field), alt.Tooltip("column:O"), alt.Tooltip("value:Q", format="+.6f")]
    sort = list(CLASSES) if row_field.startswith("class") else "ascending"
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("column:O", title=column_title, axis=alt.Axis(values=list(range(0, 64, 8)), labelAngle=0)),
            y=alt.Y(
                row_field,
                title=row_title,
                sort=sort,
                axis=alt.Axis(labelOverlap=False) if rows <= 16 else alt.Axis(values=list(range(0, rows, 8))),
            ),
            color=alt.Color("value:Q", scale=alt.Scale(scheme=DIVERGING, domain=[-limit, limit], domainMid=0),
                            legend=scale_legend(title, ".3~g", [-limit, -limit / 2, 0.0, limit / 2, limit], orient="right")),
            tooltip=tooltip,
        )
        .properties(height=28 * rows if rows <= 16 else 320, width="container")
    )  # fmt: skip


def bias_bars(frame: pd.DataFrame) -> alt.Chart:
    """Every bias (layer, unit, name, value): one small bar panel per layer."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "unit:O",
                title=None,
                axis=alt.Axis(labelOverlap=True, labelAngle=0),
            ),
            y=alt.Y("value:Q", title=None),
            color=alt.condition("datum.value < 0", alt.value("#2166ac"), alt.value("#e66101")),
            tooltip=[alt.Tooltip("layer:N"), alt.Tooltip("name:N"), alt.Tooltip("value:Q", format="+.6f")],
        )
        .properties(height=90, width=260)
        .facet(facet=alt.Facet("layer:N", title=None), columns=2)
        .resolve_scale(x="independent", y="independent")
    )
