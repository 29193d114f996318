"""Paragraph and table styles of the dossier (reportlab): one type scale, the project colours."""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Table, TableStyle

from reports import theme

# One TableStyle command as reportlab reads it: its name, the first and last cells, its values.
TableCommand = tuple[str, tuple[int, int], tuple[int, int], *tuple[Any, ...]]

NAVY = colors.HexColor(theme.NAVY)
SUN = colors.HexColor(theme.SUN)
INK = colors.HexColor(theme.INK)
GREY = colors.HexColor(theme.GREY)
LIGHT = colors.HexColor(theme.LIGHT)
RULE = colors.HexColor(theme.RULE)
RED = colors.HexColor(theme.RED)
GREEN = colors.HexColor(theme.GREEN)
ORANGE = colors.HexColor(theme.ORANGE)

FONT, BOLD, ITALIC = "Helvetica", "Helvetica-Bold", "Helvetica-Oblique"

H1 = ParagraphStyle(
    "h1", fontName=BOLD, fontSize=17, leading=21, textColor=NAVY, spaceBefore=2, spaceAfter=8
)
H2 = ParagraphStyle(
    "h2", fontName=BOLD, fontSize=11.5, leading=14, textColor=NAVY, spaceBefore=10, spaceAfter=4
)
BODY = ParagraphStyle(
    "body", fontName=FONT, fontSize=9.2, leading=13, textColor=INK, alignment=TA_LEFT, spaceAfter=5
)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.8, leading=10)
CAPTION = ParagraphStyle(
    "caption", parent=BODY, fontName=ITALIC, fontSize=7.5, leading=9.5, textColor=GREY, spaceAfter=8
)
BULLET = ParagraphStyle("bullet", parent=BODY, leftIndent=10, bulletIndent=2, spaceAfter=2)
CELL = ParagraphStyle("cell", fontName=FONT, fontSize=7.6, leading=9.4, textColor=INK)
CELL_B = ParagraphStyle("cellb", parent=CELL, fontName=BOLD)
NOTE = ParagraphStyle(
    "note",
    parent=BODY,
    fontSize=8.5,
    leading=11.5,
    textColor=INK,
    backColor=colors.HexColor("#FFF6E0"),
    borderColor=SUN,
    borderWidth=0.6,
    borderPadding=6,
    spaceBefore=4,
    spaceAfter=10,
)


def data_table(rows: list[list[object]], widths: list[float], header: bool = True) -> Table:
    """A striped table with a navy header row."""
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    cmds: list[TableCommand] = [
        ("FONT", (0, 0), (-1, -1), FONT, 7.6),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header:
        cmds += [
            ("BACKGROUND", (0, 0), (-1, 0), NAVY),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("FONT", (0, 0), (-1, 0), BOLD, 7.6),
        ]
    for i in range(1 if header else 0, len(rows)):
        if i % 2 == 0:
            cmds.append(("BACKGROUND", (0, i), (-1, i), LIGHT))
    t.setStyle(TableStyle(cmds))
    return t


def kv_table(pairs: list[tuple[str, str]], widths: tuple[float, float]) -> Table:
    """Two columns: label (bold) and value."""
    t = Table([[k, v] for k, v in pairs], colWidths=list(widths), hAlign="LEFT")
    cmds: list[TableCommand] = [
        ("FONT", (0, 0), (0, -1), BOLD, 7.8),
        ("FONT", (1, 0), (1, -1), FONT, 7.8),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    t.setStyle(TableStyle(cmds))
    return t
