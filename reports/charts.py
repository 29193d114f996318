"""Charts for the dossier (matplotlib, Agg, no pyplot: safe to draw from worker threads)."""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reports.facts import Criterion
from reports.fmt import MONTHS_SHORT, fr_num
from reports.theme import GREEN, GREY, INK, LIGHT, NAVY, ORANGE, RED, RULE, SUN

DPI = 150


def _fig(w_cm: float, h_cm: float) -> Figure:
    fig = Figure(figsize=(w_cm / 2.54, h_cm / 2.54), dpi=DPI)
    fig.patch.set_facecolor("white")
    return fig


def _style(ax: object) -> None:
    ax.spines[["top", "right"]].set_visible(False)  # type: ignore[attr-defined]
    ax.spines[["left", "bottom"]].set_color(RULE)  # type: ignore[attr-defined]
    ax.tick_params(colors=GREY, labelsize=7)  # type: ignore[attr-defined]
    ax.title.set_color(INK)  # type: ignore[attr-defined]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No bbox_inches="tight": it draws the figure twice. Margins are set per chart instead, and a
    # light PNG compression keeps encoding cheap (the PDF deflates the image again anyway).
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def monthly_chart(mwh: list[float]) -> bytes:
    """Monthly production bars (MWh)."""
    fig = _fig(16, 6.5)
    ax = fig.add_subplot()
    bars = ax.bar(range(12), mwh, color=SUN, width=0.7)
    fig.subplots_adjust(left=0.1, right=0.99, top=0.95, bottom=0.13)
    ax.set_xticks(range(12), MONTHS_SHORT)
    ax.set_ylabel("MWh", fontsize=7, color=GREY)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fr_num(v)))
    ax.grid(axis="y", color=LIGHT, linewidth=0.8)
    ax.set_axisbelow(True)
    top = max(mwh) if mwh else 1
    for b, v in zip(bars, mwh, strict=True):
        ax.text(
            b.get_x() + b.get_width() / 2,
            v + top * 0.02,
            fr_num(v),
            ha="center",
            fontsize=5.5,
            color=INK,
        )
    _style(ax)
    return _png(fig)


def score_chart(criteria: list[Criterion]) -> bytes:
    """Points earned per criterion against their weight."""
    rows = [c for c in criteria if c.weight is not None][::-1]
    fig = _fig(16, 1.2 + 0.75 * max(len(rows), 1))
    ax = fig.add_subplot()
    labels = [c.label for c in rows]
    weights = [c.weight or 0 for c in rows]
    points = [c.points or 0 for c in rows]
    fig.subplots_adjust(
        left=0.3, right=0.98, top=0.97, bottom=1.0 / (1.2 + 0.75 * max(len(rows), 1))
    )
    ax.barh(labels, weights, color=LIGHT, height=0.6, label="poids")
    colours = [
        GREEN if (c.score or 0) >= 0.66 else ORANGE if (c.score or 0) >= 0.33 else RED for c in rows
    ]
    ax.barh(labels, points, color=colours, height=0.6, label="points obtenus")
    for i, (p, w) in enumerate(zip(points, weights, strict=True)):
        ax.text(w + 0.6, i, f"{fr_num(p, 1)} / {fr_num(w)}", va="center", fontsize=6.5, color=INK)
    ax.set_xlim(0, max(weights + [1]) * 1.25)
    ax.tick_params(axis="y", labelsize=7, colors=INK)
    ax.set_xlabel("points", fontsize=7, color=GREY)
    _style(ax)
    return _png(fig)


def economics_chart(split: list[tuple[str, float]], cumulative: list[float]) -> bytes:
    """CAPEX split (donut) beside the cumulative cash flow (k€)."""
    fig = _fig(17, 7.2)
    ax1 = fig.add_subplot(1, 2, 1)
    vals = [v for _, v in split if v > 0]
    labels = [n for n, v in split if v > 0]
    colours = [NAVY, SUN, GREEN, GREY][: len(vals)]
    wedges, _ = ax1.pie(
        vals,
        colors=colours,
        startangle=90,
        counterclock=False,
        wedgeprops={"width": 0.38, "edgecolor": "white"},
    )
    total = sum(vals)
    ax1.text(
        0,
        0,
        f"{fr_num(total / 1e6, 2)}\nM€",
        ha="center",
        va="center",
        fontsize=8,
        color=INK,
        fontweight="bold",
    )
    ax1.legend(
        wedges,
        [f"{n} ({fr_num(100 * v / total, 0)} %)" for n, v in zip(labels, vals, strict=True)],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        fontsize=6,
        frameon=False,
        ncol=1,
        handlelength=1.2,
    )
    ax1.set_title("Répartition de l'investissement", fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    years = list(range(len(cumulative)))
    k = [v / 1000 for v in cumulative]
    ax2.fill_between(
        years, k, 0, where=[v >= 0 for v in k], color=GREEN, alpha=0.25, interpolate=True
    )
    ax2.fill_between(years, k, 0, where=[v < 0 for v in k], color=RED, alpha=0.18, interpolate=True)
    ax2.plot(years, k, color=NAVY, linewidth=1.4)
    ax2.axhline(0, color=GREY, linewidth=0.6)
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fr_num(v)))
    ax2.set_xlabel("année", fontsize=7, color=GREY)
    ax2.set_ylabel("k€ cumulés", fontsize=7, color=GREY)
    ax2.set_title("Trésorerie cumulée", fontsize=8)
    _style(ax2)
    fig.subplots_adjust(left=0.02, right=0.95, top=0.91, bottom=0.24, wspace=0.35)
    return _png(fig)
