"""The PDF dossier a commercial hands to a buyer: reportlab (A4), charts, maps, annexes (pypdf)."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pypdf import PdfReader, PdfWriter
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
)

from reports import maps, sections
from reports.basemap import BasemapConfig, fetch_basemap
from reports.facts import DossierFacts, num
from reports.fmt import fr_date, fr_num
from reports.styles import BOLD, CAPTION, FONT, GREY, H2, INK, LIGHT, NAVY, RULE, SUN
from reports.summary import Summary

log = logging.getLogger(__name__)

# reportlab ASCII85-encodes every stream by default, in pure Python here (no C accelerator in
# this reportlab build): for images and page contents that was most of the render time. Binary
# Flate streams are what every PDF reader expects; the file is also ~20 % smaller.
rl_config.useA85 = 0

PAGE_W, PAGE_H = A4
MARGIN = 2 * cm
STATUS_FR = {
    "NEW": "nouveau",
    "ENRICHED": "enrichi",
    "QUALIFIED": "qualifié",
    "IN_REVIEW": "en revue",
    "CLIENT_READY": "prêt pour le client",
    "SOLD": "vendu",
    "REJECTED": "rejeté",
    "ARCHIVED": "archivé",
}


@dataclass(frozen=True)
class Annex:
    """An uploaded document to append (PDF) or place on a page (image)."""

    filename: str
    content_type: str
    data: bytes
    category: str = "other"


@dataclass(frozen=True)
class DossierOptions:
    """How to render: audience (owners shown or not), summary model name, optional basemap."""

    audience: Literal["internal", "commercial"] = "internal"
    summary_model: str | None = None
    basemap: BasemapConfig | None = None


@dataclass
class DossierResult:
    """The PDF bytes, its page count, what was skipped or missing, and the time it took."""

    pdf: bytes
    pages: int
    notes: list[str] = field(default_factory=list)
    generation_ms: int = 0


def _check_pdf(a: Annex) -> tuple[PdfReader | None, str | None]:
    try:
        reader = PdfReader(io.BytesIO(a.data))
        if reader.is_encrypted and not reader.decrypt(""):
            return None, f"Annexe « {a.filename} » ignorée : PDF protégé par mot de passe."
        n = len(reader.pages)
        if n == 0:
            raise ValueError("no pages")
        for page in reader.pages:
            _ = page.mediabox
        return reader, None
    except Exception as exc:  # pypdf raises many types on broken files
        log.info("annex %s skipped: %s", a.filename, exc)
        return None, f"Annexe « {a.filename} » ignorée : fichier PDF illisible ou corrompu."


def _check_image(a: Annex) -> tuple[tuple[int, int] | None, str | None]:
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(a.data)) as im:
            im.verify()
        with PILImage.open(io.BytesIO(a.data)) as im:
            return im.size, None
    except Exception:
        return None, f"Annexe « {a.filename} » ignorée : image illisible ou corrompue."


# What reportlab calls to draw a page's background: the canvas and the document.
PageDrawer = Callable[[Canvas, BaseDocTemplate], None]


def _cover(facts: DossierFacts, audience: str, site_png: bytes | None) -> PageDrawer:
    lead = facts.lead

    def draw(c: Canvas, _doc: object) -> None:
        c.saveState()
        c.setFillColor(NAVY)
        c.rect(0, PAGE_H * 0.52, PAGE_W, PAGE_H * 0.48, stroke=0, fill=1)
        c.setFillColor(SUN)
        c.rect(0, PAGE_H * 0.52 - 6, PAGE_W, 6, stroke=0, fill=1)
        c.setFillColor(colors.white)
        c.setFont(BOLD, 10)
        c.drawString(MARGIN, PAGE_H - 2.2 * cm, "LFS LEAD FACTORY")
        c.setFont(FONT, 10)
        c.drawRightString(PAGE_W - MARGIN, PAGE_H - 2.2 * cm, "Dossier de site photovoltaïque")
        c.setFont(BOLD, 28)
        y = PAGE_H - 8.5 * cm
        for line in _wrap(str(lead["name"]), BOLD, 28, PAGE_W - 2 * MARGIN)[:3]:
            c.drawString(MARGIN, y, line)
            y -= 33
        c.setFont(FONT, 13)
        where = lead.get("commune_name") or "Commune non renseignée"
        if lead.get("commune_insee"):
            where += f" ({lead['commune_insee']})"
        if lead.get("department"):
            where += f" · département {lead['department']}"
        c.drawString(MARGIN, y - 6, where)
        c.setFont(FONT, 10)
        c.setFillColor(colors.HexColor("#C9D6E3"))
        c.drawString(
            MARGIN,
            y - 26,
            f"Référence {lead['internal_name']} · statut "
            f"{STATUS_FR.get(lead['status'], lead['status'])} · "
            f"{fr_date(facts.generated_at)}",
        )
        # Headline figures.
        t = facts.technical or {}
        figures = [
            ("Surface", _fig(lead.get("area_m2"), 1e-4, 1), "ha"),
            ("Puissance", _fig(t.get("installable_mwc"), 1, 1), "MWc"),
            ("Production", _fig(t.get("annual_production_mwh"), 1, 0), "MWh/an"),
            ("Score", _fig(lead.get("quality_score"), 1, 0), "/ 100"),
        ]
        box_w = (PAGE_W - 2 * MARGIN - 3 * 0.5 * cm) / 4
        top = PAGE_H * 0.52 - 2.2 * cm
        for i, (label, value, unit) in enumerate(figures):
            x = MARGIN + i * (box_w + 0.5 * cm)
            c.setFillColor(LIGHT)
            c.roundRect(x, top - 3.2 * cm, box_w, 3.2 * cm, 6, stroke=0, fill=1)
            c.setFillColor(GREY)
            c.setFont(FONT, 8.5)
            c.drawString(x + 0.4 * cm, top - 0.8 * cm, label.upper())
            c.setFillColor(NAVY if value != "n.d." else GREY)
            c.setFont(BOLD, 22 if value != "n.d." else 16)
            c.drawString(x + 0.4 * cm, top - 2.0 * cm, value)
            c.setFillColor(INK)
            c.setFont(FONT, 9)
            c.drawString(x + 0.4 * cm, top - 2.7 * cm, unit)
        c.setFillColor(INK)
        c.setFont(FONT, 9)
        y = top - 3.8 * cm
        if not facts.enriched:
            c.setFillColor(colors.HexColor("#9A6700"))
            c.drawString(
                MARGIN,
                y,
                "Site non enrichi : production, contraintes, réseau et économie restent à établir.",
            )
            y -= 14
        if site_png is not None and y > 3.4 * cm + 4 * cm:
            from reportlab.lib.utils import ImageReader

            img = ImageReader(io.BytesIO(site_png))
            iw, ih = img.getSize()
            h = min(y - 3.4 * cm, 7.2 * cm)
            w = min(h * iw / ih, PAGE_W - 2 * MARGIN)
            h = w * ih / iw
            c.drawImage(img, (PAGE_W - w) / 2, y - h, width=w, height=h)
        c.setFillColor(GREY)
        c.setFont(FONT, 8)
        version = (
            "Version commerciale : sans données personnelles des propriétaires."
            if audience == "commercial"
            else "Document interne et confidentiel : contient des données personnelles."
        )
        c.drawString(MARGIN, 2.4 * cm, version)
        c.drawString(
            MARGIN,
            1.9 * cm,
            "Sources : cadastre Etalab, INPN, Géoportail de "
            "l'Urbanisme, Enedis/RTE (S3REnR, Caparéseau), PVGIS (JRC).",
        )
        c.setStrokeColor(RULE)
        c.line(MARGIN, 2.9 * cm, PAGE_W - MARGIN, 2.9 * cm)
        c.restoreState()

    return draw


def _fig(v: object, scale: float, digits: int) -> str:
    x = num(v)
    return "n.d." if x is None else fr_num(x * scale, digits)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, cur = [], ""
    for word in text.split():
        cand = f"{cur} {word}".strip()
        if stringWidth(cand, font, size) <= width or not cur:
            cur = cand
        else:
            lines.append(cur)
            cur = word
    return lines + ([cur] if cur else [])


def _body_page(facts: DossierFacts, audience: str) -> PageDrawer:
    name = str(facts.lead["name"])
    tag = "Version commerciale" if audience == "commercial" else "Confidentiel"

    def draw(c: Canvas, doc: BaseDocTemplate) -> None:
        c.saveState()
        c.setFillColor(NAVY)
        c.rect(0, PAGE_H - 0.5 * cm, PAGE_W, 0.5 * cm, stroke=0, fill=1)
        c.setFont(BOLD, 7.5)
        c.setFillColor(NAVY)
        c.drawString(MARGIN, PAGE_H - 1.2 * cm, "LFS LEAD FACTORY · DOSSIER DE SITE")
        c.setFont(FONT, 7.5)
        c.setFillColor(GREY)
        c.drawRightString(PAGE_W - MARGIN, PAGE_H - 1.2 * cm, name[:80])
        c.setStrokeColor(RULE)
        c.line(MARGIN, 1.5 * cm, PAGE_W - MARGIN, 1.5 * cm)
        c.drawString(MARGIN, 1.05 * cm, f"{tag} · généré le {fr_date(facts.generated_at)}")
        c.drawRightString(PAGE_W - MARGIN, 1.05 * cm, f"page {doc.page}")
        c.restoreState()

    return draw


def _image_page(a: Annex, size: tuple[int, int], title: str) -> list[Flowable]:
    max_w, max_h = PAGE_W - 2 * MARGIN, PAGE_H - 2 * MARGIN - 3.5 * cm
    w, h = size
    scale = min(max_w / w, max_h / h)
    return [
        PageBreak(),
        Paragraph(sections.esc(title), H2),
        Image(io.BytesIO(a.data), width=w * scale, height=h * scale),
        Paragraph(
            f"Document joint : {sections.esc(a.filename)} ({sections.esc(a.category)}).", CAPTION
        ),
    ]


def _basemaps(
    facts: DossierFacts, cfg: BasemapConfig | None
) -> tuple[dict[str, bytes | None], str | None]:
    if cfg is None or facts.layers.site is None:
        return {}, None
    out: dict[str, bytes | None] = {}
    aspect = 17 / 10.5
    for key, b in (
        ("site", maps.site_bounds(facts.layers, aspect)),
        ("context", maps.context_bounds(facts.layers, aspect)),
    ):
        out[key] = fetch_basemap(cfg, b, 1000, int(1000 / aspect)) if b else None
    note = None if all(out.values()) else "Fond de plan Mapbox indisponible : cartes sans fond."
    return out, note


def build_dossier(
    facts: DossierFacts, summary: Summary, annexes: list[Annex], options: DossierOptions
) -> DossierResult:
    """Render the dossier; corrupt annexes are skipped with a note, never a crash."""
    t0 = time.perf_counter()
    notes: list[str] = []
    pdf_annexes: list[tuple[Annex, PdfReader]] = []
    image_pages: list[Flowable] = []
    toc: list[tuple[str, str]] = []
    letter = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    # Images are placed on pages of the dossier itself, PDFs appended after it: letters follow
    # the order in which the reader meets them.
    for a in annexes:
        if a.content_type in ("image/png", "image/jpeg"):
            size, note = _check_image(a)
            if size is None:
                notes.append(note or "")
                continue
            title = f"Annexe {next(letter, '*')}"
            toc.append((title, f"{a.filename} — image"))
            image_pages += _image_page(a, size, f"{title} — {a.filename}")
    for a in annexes:
        if a.content_type == "application/pdf":
            reader, note = _check_pdf(a)
            if reader is None:
                notes.append(note or "")
                continue
            title = f"Annexe {next(letter, '*')}"
            toc.append((title, f"{a.filename} — PDF, {len(reader.pages)} page(s)"))
            pdf_annexes.append((a, reader))
    if summary.note:
        notes.append(summary.note)
    basemaps, basemap_note = _basemaps(facts, options.basemap)
    if basemap_note:
        notes.append(basemap_note)
    site_png = None
    if maps.site_bounds(facts.layers, 1.0) is not None:
        site_png = maps.site_map(
            facts.layers, sections.MAP_W_CM, sections.MAP_H_CM, basemaps.get("site")
        )

    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=f"Dossier de site — {facts.lead['name']}",
        author="LFS Lead Factory",
        subject="Dossier de site photovoltaïque au sol",
        creator="LFS Lead Factory",
    )
    frame = Frame(MARGIN, 2 * cm, PAGE_W - 2 * MARGIN, PAGE_H - 4 * cm, id="body")
    doc.addPageTemplates(
        [
            PageTemplate("cover", frames=[frame], onPage=_cover(facts, options.audience, site_png)),
            PageTemplate("body", frames=[frame], onPage=_body_page(facts, options.audience)),
        ]
    )
    story: list[Flowable] = [Spacer(1, 1), NextPageTemplate("body"), PageBreak()]
    story += sections.synthesis(facts, summary, options.summary_model)
    story += [PageBreak()] + sections.map_section(facts, basemaps, basemap_note, site_png)
    story += [PageBreak()] + sections.charts_section(facts)
    story += [
        PageBreak(),
        Paragraph("Caractéristiques techniques", H2),
        sections.technical_pairs(facts),
    ]
    story += sections.tables_section(facts)
    story += [PageBreak()] + sections.annex_list(toc, [n for n in notes if "Annexe" in n])
    story += image_pages
    doc.build(story)
    main = buf.getvalue()
    pages = doc.page
    if pdf_annexes:
        writer = PdfWriter()
        writer.append(PdfReader(io.BytesIO(main)))
        writer.add_metadata(
            {
                "/Title": f"Dossier de site — {facts.lead['name']}",
                "/Author": "LFS Lead Factory",
                "/Creator": "LFS Lead Factory",
            }
        )
        for a, reader in pdf_annexes:
            try:
                writer.append(reader)
            except Exception:  # a file that passed the check but fails on copy
                log.info("annex %s could not be appended", a.filename)
                notes.append(f"Annexe « {a.filename} » n'a pas pu être ajoutée.")
        out = io.BytesIO()
        writer.write(out)
        main = out.getvalue()
        pages = len(writer.pages)
    return DossierResult(main, pages, notes, int((time.perf_counter() - t0) * 1000))
