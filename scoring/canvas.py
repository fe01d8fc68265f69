"""A tiny vector canvas written out as SVG, PNG (Pillow) and PDF, for the profile figure.

Importing and running matplotlib was a third of the time of a whole scoring; the
performance profile is lines, shaded bands and text, which this draws directly.
Coordinates are pixels from the top left.  PNG: drawn at 2x and downsampled
(antialiasing), DejaVu Sans (shipped with matplotlib, found without importing it).
PDF: one page, 0.75 pt per pixel, the standard Helvetica font (no embedding; text is
ASCII there, Greek letters spelled out).
"""

from __future__ import annotations

import html
import importlib.util
import io
import os
import zlib
from dataclasses import dataclass, field

DASHES = {'-': (), '--': (6.0, 3.0), ':': (1.5, 2.5), '-.': (6.0, 2.5, 1.5, 2.5)}
_ASCII = {'τ': 'tau', 'ρ': 'rho', '–': '-', '…': '...'}


def _rgb(color: str) -> tuple[int, int, int]:
  c = color.lstrip('#')
  return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


@dataclass
class Canvas:
  width: int
  height: int
  ops: list = field(default_factory=list)

  def line(self, pts, color='#000000', width=1.0, style='-', alpha=1.0):
    self.ops.append(('line', [(float(x), float(y)) for x, y in pts], color, width, style, alpha))

  def fill(self, pts, color, alpha=1.0):
    self.ops.append(('fill', [(float(x), float(y)) for x, y in pts], color, alpha))

  def text(self, x, y, s, size=11.0, anchor='start', rotate=0, color='#222222'):
    self.ops.append(('text', float(x), float(y), str(s), size, anchor, rotate, color))

  # --- SVG -------------------------------------------------------------------------------
  def to_svg(self, label: str = '') -> str:
    out = [
      f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
      f'width="{self.width}" height="{self.height}" font-family="DejaVu Sans,system-ui,sans-serif" '
      f'role="img" aria-label="{html.escape(label)}">',
      '<rect width="100%" height="100%" fill="#fff"/>',
    ]
    for op in self.ops:
      if op[0] == 'line':
        _, pts, color, width, style, alpha = op
        d = 'M' + 'L'.join(f'{x:.1f} {y:.1f}' for x, y in pts)
        dash = ','.join(f'{v * width:g}' for v in DASHES.get(style, ()))
        out.append(
          f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width:g}"'
          + (f' stroke-opacity="{alpha:g}"' if alpha < 1 else '')
          + (f' stroke-dasharray="{dash}"' if dash else '')
          + '/>'
        )
      elif op[0] == 'fill':
        _, pts, color, alpha = op
        d = 'M' + 'L'.join(f'{x:.1f} {y:.1f}' for x, y in pts) + 'Z'
        out.append(f'<path d="{d}" fill="{color}" fill-opacity="{alpha:g}" stroke="none"/>')
      else:
        _, x, y, s, size, anchor, rotate, color = op
        rot = f' transform="rotate({rotate:g} {x:.1f} {y:.1f})"' if rotate else ''
        out.append(
          f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" '
          f'fill="{color}"{rot}>{html.escape(s)}</text>'
        )
    out.append('</svg>')
    return '\n'.join(out)

  # --- PNG -------------------------------------------------------------------------------
  def to_png(self, scale: float = 1.0) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    ss = 2.0 * scale
    img = Image.new('RGB', (round(self.width * ss), round(self.height * ss)), 'white')
    draw = ImageDraw.Draw(img, 'RGBA')
    fonts: dict[float, object] = {}
    path = _font_path()

    def font(size):
      if size not in fonts:
        px = max(1, round(size * ss))
        try:
          fonts[size] = ImageFont.truetype(path, px) if path else ImageFont.load_default(px)
        except OSError:
          fonts[size] = ImageFont.load_default()
      return fonts[size]

    for op in self.ops:
      if op[0] == 'line':
        _, pts, color, width, style, alpha = op
        rgba = (*_rgb(color), round(255 * alpha))
        w = max(1, round(width * ss))
        for seg in _dashed(
          [(x * ss, y * ss) for x, y in pts], [v * width * ss for v in DASHES.get(style, ())]
        ):
          draw.line(seg, fill=rgba, width=w, joint='curve')
      elif op[0] == 'fill':
        _, pts, color, alpha = op
        draw.polygon([(x * ss, y * ss) for x, y in pts], fill=(*_rgb(color), round(255 * alpha)))
      else:
        _, x, y, s, size, anchor, rotate, color = op
        f = font(size)
        a = {'start': 'ls', 'middle': 'ms', 'end': 'rs'}[anchor]
        if not rotate:
          draw.text((x * ss, y * ss), s, font=f, fill=_rgb(color), anchor=a)
        else:
          box = draw.textbbox((0, 0), s, font=f, anchor='lt')
          tw, th = box[2] - box[0] + 4, box[3] - box[1] + 4
          tmp = Image.new('L', (tw, th), 0)
          ImageDraw.Draw(tmp).text((2, 2), s, font=f, fill=255, anchor='lt')
          tmp = tmp.rotate(-rotate, expand=True)
          px = round(x * ss - tmp.width / 2)
          py = round(y * ss - tmp.height / 2)
          img.paste(Image.new('RGB', tmp.size, _rgb(color)), (px, py), tmp)
    img = img.resize((round(self.width * scale), round(self.height * scale)), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    return buf.getvalue()

  # --- PDF -------------------------------------------------------------------------------
  def to_pdf(self) -> bytes:
    k = 0.75
    h = self.height
    cs: list[str] = []
    alphas: dict[float, str] = {}

    def gs(a: float) -> str:
      a = round(a, 3)
      if a not in alphas:
        alphas[a] = f'GS{len(alphas)}'
      return f'/{alphas[a]} gs'

    def xy(x, y):
      return f'{x * k:.2f} {(h - y) * k:.2f}'

    for op in self.ops:
      if op[0] == 'line':
        _, pts, color, width, style, alpha = op
        r, g, b = (v / 255 for v in _rgb(color))
        dash = ' '.join(f'{v * width * k:.2f}' for v in DASHES.get(style, ()))
        path = ' '.join([xy(*pts[0]) + ' m'] + [xy(x, y) + ' l' for x, y in pts[1:]])
        cs.append(
          f'q {gs(alpha)} {r:.3f} {g:.3f} {b:.3f} RG {width * k:.2f} w 1 j [{dash}] 0 d {path} S Q'
        )
      elif op[0] == 'fill':
        _, pts, color, alpha = op
        r, g, b = (v / 255 for v in _rgb(color))
        path = ' '.join([xy(*pts[0]) + ' m'] + [xy(x, y) + ' l' for x, y in pts[1:]])
        cs.append(f'q {gs(alpha)} {r:.3f} {g:.3f} {b:.3f} rg {path} h f Q')
      else:
        _, x, y, s, size, anchor, rotate, color = op
        for a, b_ in _ASCII.items():
          s = s.replace(a, b_)
        s = s.encode('latin-1', 'replace').decode('latin-1')
        w = _helvetica_width(s, size) * k
        shift = {'start': 0.0, 'middle': -w / 2, 'end': -w}[anchor]
        r, g, b = (v / 255 for v in _rgb(color))
        esc = s.replace('\\', '\\\\').replace('(', '\\(').replace(')', '\\)')
        if rotate:  # only -90 is used: text going up
          m = f'0 1 -1 0 {x * k:.2f} {(h - y) * k + shift:.2f}'
        else:
          m = f'1 0 0 1 {x * k + shift:.2f} {(h - y) * k:.2f}'
        cs.append(f'BT {r:.3f} {g:.3f} {b:.3f} rg /F1 {size * k:.2f} Tf {m} Tm ({esc}) Tj ET')
    content = zlib.compress('\n'.join(cs).encode('latin-1'))
    ext = ' '.join(f'/{n} << /CA {a} /ca {a} >>' for a, n in alphas.items())
    objs = [
      b'<< /Type /Catalog /Pages 2 0 R >>',
      b'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      (
        f'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {self.width * k:.2f} {h * k:.2f}] '
        f'/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /ExtGState << {ext} >> >> >>'
      ).encode(),
      f'<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n'.encode()
      + content
      + b'\nendstream',
      b'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    ]
    out = bytearray(b'%PDF-1.4\n%\xe2\xe3\xcf\xd3\n')
    offsets = []
    for i, body in enumerate(objs, start=1):
      offsets.append(len(out))
      out += f'{i} 0 obj\n'.encode() + body + b'\nendobj\n'
    xref = len(out)
    out += f'xref\n0 {len(objs) + 1}\n0000000000 65535 f \n'.encode()
    for off in offsets:
      out += f'{off:010d} 00000 n \n'.encode()
    out += f'trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n'.encode()
    return bytes(out)


def _font_path() -> str | None:
  spec = importlib.util.find_spec('matplotlib')
  if spec is None or not spec.origin:
    return None
  p = os.path.join(os.path.dirname(spec.origin), 'mpl-data', 'fonts', 'ttf', 'DejaVuSans.ttf')
  return p if os.path.isfile(p) else None


def _helvetica_width(s: str, size: float) -> float:
  """Approximate width of ``s`` in Helvetica (for centring text in the PDF)."""
  narrow, wide = set("ijlftI.,:;|!'()[] "), set('mwMW@%')
  em = sum(0.28 if c in narrow else 0.83 if c in wide else 0.56 for c in s)
  return em * size


def _dashed(pts, pattern):
  """Split a polyline into the drawn pieces of a dash pattern (``()`` = solid)."""
  if not pattern:
    return [pts]
  out, cur = [], [pts[0]]
  i, left, on = 0, pattern[0], True
  for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
    seg = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    pos = 0.0
    while seg - pos > left:
      pos += left
      t = pos / seg
      p = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
      if on:
        cur.append(p)
        out.append(cur)
      cur = [p]
      on = not on
      i = (i + 1) % len(pattern)
      left = pattern[i]
    left -= seg - pos
    if on:
      cur.append((x1, y1))
    else:
      cur = [(x1, y1)]
  if on and len(cur) > 1:
    out.append(cur)
  return out
