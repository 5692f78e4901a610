"""The visual report (--html FILE / NN_HTML): one self-contained HTML page.

The verdict table as the terminal shows it, every failure's message, for each array mismatch its expected, got and
difference as heat maps (a shifted conv gradient, a transposed weight gradient or a mask applied twice shows at a
glance), and the end-to-end checks' learning curves. Pictures are PNGs (matplotlib, Agg) embedded as data: URIs:
the page loads nothing, runs no script and can be mailed or uploaded as it is.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field

import numpy as np

from nn_harness.report.evidence import Piece

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; color: #222; }
pre { background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; font-size: 0.85em; line-height: 1.35; }
.failed { color: #b00020; } .passed { color: #1b6e20; } .total { font-weight: bold; }
section.failure { border-top: 1px solid #ddd; margin-top: 1.5em; }
figure { margin: 0.5em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
"""


@dataclass(frozen=True)
class Failure:
    """A failed check as the page shows it."""

    name: str
    message: str
    pieces: list[Piece] = field(default_factory=list)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _shown(a: np.ndarray) -> np.ma.MaskedArray:
    """NaN and inf masked: drawn in the colour map's 'bad' colour, and left out of the colour scale."""
    return np.ma.masked_invalid(a)


ANNOTATED = 48  # a panel of at most this many elements shows their values too (shrunk cases are often tiny)


def _annotate(ax: object, data: np.ndarray) -> None:
    """Each element's value written on it, white outlined in black: readable on any colour of the map."""
    from matplotlib import patheffects

    outline = [patheffects.withStroke(linewidth=1.5, foreground="black")]
    for (r, c), value in np.ndenumerate(data):
        ax.text(c, r, f"{value:.3g}", ha="center", va="center", fontsize=7, color="white", path_effects=outline)


def heatmaps(piece: Piece) -> bytes:
    """A PNG: expected, got and got - expected side by side, a row per panel (channel); expected and got share one
    colour scale, the difference a symmetric one; the worst element boxed; NaN and inf in magenta."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global backend state
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FixedLocator, MaxNLocator

    panels, rows, cols = piece.expected.shape
    with np.errstate(invalid="ignore", over="ignore"):
        diff = piece.got - piece.expected
    both = np.concatenate([piece.expected[np.isfinite(piece.expected)], piece.got[np.isfinite(piece.got)]])
    low, high = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    finite_diff = np.abs(diff[np.isfinite(diff)])
    span = float(finite_diff.max()) if finite_diff.size and finite_diff.max() > 0 else 1.0
    row_height = 0.9 if rows == 1 else min(3.0, max(1.6, 3.6 * rows / max(cols, 1)))
    fig = Figure(figsize=(11, 0.6 + row_height * panels), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 3, squeeze=False)
    values = matplotlib.colormaps["viridis"].with_extremes(bad="magenta")
    signed = matplotlib.colormaps["RdBu_r"].with_extremes(bad="magenta")
    aspect = "equal" if 0.2 < rows / cols < 5 else "auto"  # a long row or column stretched to be seen
    for p in range(panels):
        for j, (title, data, cmap, scale) in enumerate((("expected", piece.expected[p], values, (low, high)),
                                                         ("got", piece.got[p], values, (low, high)),
                                                         ("got - expected", diff[p], signed, (-span, span)))):
            ax = axes[p, j]
            image = ax.imshow(_shown(data), cmap=cmap, vmin=scale[0], vmax=scale[1], aspect=aspect,
                              interpolation="nearest")
            ax.set_title(title + (f" ({piece.labels[p]})" if piece.labels[p] else ""), fontsize=9)
            ax.tick_params(labelsize=7)
            for axis, n in ((ax.xaxis, cols), (ax.yaxis, rows)):  # element indices, never fractions of one
                axis.set_major_locator(FixedLocator(range(n)) if n <= 16 else MaxNLocator(integer=True))
            if rows == 1:
                ax.set_yticks([])
            if rows * cols <= ANNOTATED:
                _annotate(ax, data)
            if p == piece.worst[0]:
                ax.add_patch(Rectangle((piece.worst[2] - 0.5, piece.worst[1] - 0.5), 1, 1, fill=False,
                                       edgecolor="black" if j < 2 else "limegreen", linewidth=1.5))
            if p == 0 and j != 0:
                fig.colorbar(image, ax=(axes[:, :2] if j == 1 else axes[:, 2]).ravel().tolist(), shrink=0.8, aspect=30)
    fig.suptitle(f"{piece.what}: {piece.shown}", fontsize=9)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=80)
    return out.getvalue()


def _figure(png: bytes, alt: str, caption: str) -> str:
    return (f'<figure><img alt="{html.escape(alt)}" src="{data_uri(png)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(lines: list[tuple[str, str]]) -> str:
    """The verdict table, line by line as the terminal writes it, coloured as there."""
    return "\n".join(f'<span class="{style}">{html.escape(text)}</span>' if style else html.escape(text)
                     for text, style in lines)


# A picture takes about a second to draw; a submission failing everything (grade-all draws a page for each) must not
# cost minutes.
MAX_PICTURES = 20


def page(*, title: str, header: list[str], table: list[tuple[str, str]], failures: list[Failure],
         curves: list[tuple[str, bytes]]) -> str:
    """The whole page. `table`: (line, "passed" / "failed" / "total" / "") as the terminal shows the verdict;
    `curves`: (check, PNG) learning curves."""
    parts = [f"<h1>{html.escape(title)}</h1>", f"<pre class=\"header\">{html.escape(chr(10).join(header))}</pre>",
             "<h2>Verdict per layer</h2>", f'<pre class="verdict">{_table(table)}</pre>']
    if failures:
        parts.append(f"<h2>Failures ({len(failures)})</h2>")
    drawn = 0
    for number, failure in enumerate(failures, 1):
        pieces = failure.pieces[:max(0, MAX_PICTURES - drawn)]
        drawn += len(pieces)
        pictures = [_figure(heatmaps(p), f"expected, got and difference of {p.what}",
                            f"{p.what}: expected, got and got - expected; {p.shown}. The worst element is boxed; "
                            "NaN and inf are magenta.") for p in pieces]
        if len(pieces) < len(failure.pieces):
            pictures.append(f"<p>(pictures are drawn for the first {MAX_PICTURES} mismatches of a page: run this "
                            "layer alone, with -m, to see this one's)</p>")
        parts.append(f'<section class="failure" id="failure-{number}"><h3 class="failed">{html.escape(failure.name)}'
                     f"</h3><pre>{html.escape(failure.message)}</pre>{''.join(pictures)}</section>")
    if curves:
        parts.append("<h2>Learning curves</h2>")
        parts += [_figure(png, f"learning curves of {name}", name) for name, png in curves]
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")


def write(path: str | os.PathLike, text: str) -> None:
    """Atomically: a reader never sees half a page."""
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
