"""Draws a twin state as a schematic top-down picture a person (and so a VLM) can judge.

One labelled cell per receptacle (4x3 grid, placement varies with the seed), its objects drawn
inside when its door is open (or it has none), the agent as a purple disc in the cell it stands
at (yellow frame around that cell), and a strip on top showing what it holds. State badges:
hot = red ring, cold = blue ring, cleaned = yellow sparkle, dirty = brown spots; an open door is
drawn as a light interior with the door swung aside, a closed one as a solid panel with a handle;
a lamp that is on glows yellow. Text is drawn from 128 px up; below that the colours carry it.
Everything is a pure function of (state, size), so the same snapshot gives the same bytes.

On the partially observable twin (v2) a receptacle the agent has not looked into shows none of
its contents, door or no door, and carries a "?" (a grey dot below 128 px): the frame, like the
observation, holds only what the agent has seen.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from envs.alfred.catalog import display
from envs.alfred.scene import GRID_COLS, GRID_ROWS, NOWHERE, Obj, Receptacle, SceneState

RECEP_COLOURS: dict[str, tuple[int, int, int]] = {
    "CounterTop": (214, 186, 140),
    "DiningTable": (166, 112, 62),
    "Shelf": (196, 164, 118),
    "Cabinet": (138, 88, 48),
    "Drawer": (176, 124, 72),
    "Fridge": (196, 208, 222),
    "Microwave": (96, 96, 104),
    "SinkBasin": (150, 200, 224),
    "StoveBurner": (64, 64, 68),
    "CoffeeMachine": (46, 42, 40),
    "GarbageCan": (112, 132, 108),
    "SideTable": (184, 144, 100),
    "Desk": (150, 118, 88),
    "DeskLamp": (120, 118, 96),
    "Dresser": (160, 100, 82),
    "Bed": (122, 142, 204),
}
OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "Apple": (124, 204, 64),
    "Potato": (182, 142, 82),
    "Tomato": (222, 72, 52),
    "Egg": (250, 244, 218),
    "Lettuce": (78, 168, 60),
    "Bread": (212, 160, 92),
    "Mug": (236, 236, 236),
    "Cup": (196, 228, 240),
    "Plate": (248, 248, 248),
    "Bowl": (232, 220, 196),
    "Pan": (72, 72, 84),
    "Knife": (172, 172, 184),
    "Spoon": (196, 196, 206),
    "Book": (58, 88, 164),
    "AlarmClock": (196, 62, 124),
    "CellPhone": (30, 30, 34),
    "KeyChain": (224, 200, 40),
    "Pen": (40, 44, 204),
}
FLOOR = (236, 231, 221)
GRID = (198, 192, 182)
HUD = (250, 250, 246)
INK = (20, 20, 20)
AGENT = (128, 48, 168)
HIGHLIGHT = (255, 200, 0)
HOT = (255, 56, 0)
COLD = (0, 112, 255)
SPARKLE = (255, 236, 60)
DIRT = (104, 66, 28)
LAMP_ON = (255, 232, 80)
UNSEEN = (120, 120, 120)
TEXT_MIN_SIZE = 128


@lru_cache(maxsize=32)
def _font(px: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=px)


def _lighter(c: tuple[int, int, int], t: float = 0.6) -> tuple[int, int, int]:
    return tuple(int(round(v + (255 - v) * t)) for v in c)  # type: ignore[return-value]


def _darker(c: tuple[int, int, int], t: float = 0.35) -> tuple[int, int, int]:
    return tuple(int(round(v * (1 - t))) for v in c)  # type: ignore[return-value]


class _Painter:
    """Geometry for one frame size; methods draw one element each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.text = size >= TEXT_MIN_SIZE
        self.hud_h = max(8, round(size * 0.13))
        self.cw = size / GRID_COLS
        self.ch = (size - self.hud_h) / GRID_ROWS
        self.margin = max(1, round(self.cw * 0.05))
        self.label_h = max(9, round(size * 0.036)) if self.text else 0
        self.obj_r = max(1.5, min(self.cw, self.ch) * (0.1 if self.text else 0.16))
        self.line = max(1, round(size / 160))

    def cell_box(self, cell: int) -> tuple[float, float, float, float]:
        col, row = cell % GRID_COLS, cell // GRID_COLS
        x0, y0 = col * self.cw, self.hud_h + row * self.ch
        return x0, y0, x0 + self.cw, y0 + self.ch

    def fitted_text(
        self,
        d: ImageDraw.ImageDraw,
        xy: tuple[float, float],
        text: str,
        width: float,
        px: int,
        on: tuple[int, int, int] = FLOOR,
    ) -> None:
        """Draw `text` at the largest font size <= px that fits `width` (truncating if needed),
        in black or white, whichever reads better on the background colour `on`."""
        ink = INK if sum(on) > 330 else (250, 250, 250)
        for size in range(px, 6, -1):
            font = _font(size)
            if d.textlength(text, font=font) <= width:
                d.text(xy, text, fill=ink, font=font)
                return
        while text and d.textlength(text + ".", font=_font(7)) > width:
            text = text[:-1]
        d.text(xy, text + ".", fill=ink, font=_font(7))

    # --- objects --------------------------------------------------------------------------
    def obj(
        self, d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, o: Obj, inner: list[Obj]
    ) -> None:
        colour = OBJECT_COLOURS[o.cls]
        ring = max(1, round(r * 0.35))
        if o.hot or o.cold:
            rr = r + ring + 0.5
            d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=HOT if o.hot else COLD)
        if o.is_container:
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_darker(colour, 0.45))
            ri = r * 0.72
            d.ellipse((cx - ri, cy - ri, cx + ri, cy + ri), fill=colour)
            shown = inner[:2]
            for k, content in enumerate(shown):
                off = (k - (len(shown) - 1) / 2) * r * 0.6
                self.obj(d, cx + off, cy, r * (0.55 if len(shown) == 1 else 0.4), content, [])
        else:
            d.ellipse(
                (cx - r, cy - r, cx + r, cy + r),
                fill=colour,
                outline=INK,
                width=max(1, round(r / 6)),
            )
        if o.dirty:
            for dx, dy in ((-0.35, 0.25), (0.3, -0.1), (0.05, 0.45)):
                pr = max(0.8, r * 0.18)
                px, py = cx + dx * r, cy + dy * r
                d.ellipse((px - pr, py - pr, px + pr, py + pr), fill=DIRT)
        if o.cleaned:
            sx, sy, s = cx + r * 0.85, cy - r * 0.85, max(1.5, r * 0.75)
            d.polygon(
                [
                    (sx, sy - s),
                    (sx + s * 0.3, sy - s * 0.3),
                    (sx + s, sy),
                    (sx + s * 0.3, sy + s * 0.3),
                    (sx, sy + s),
                    (sx - s * 0.3, sy + s * 0.3),
                    (sx - s, sy),
                    (sx - s * 0.3, sy - s * 0.3),
                ],
                fill=SPARKLE,
                outline=_darker(SPARKLE, 0.5),
            )

    @staticmethod
    def state_words(o: Obj) -> str:
        words = [
            w
            for w, on in (
                ("hot", o.hot),
                ("cold", o.cold),
                ("clean", o.cleaned),
                ("dirty", o.dirty),
            )
            if on
        ]
        return f" ({', '.join(words)})" if words else ""

    # --- receptacles ----------------------------------------------------------------------
    def receptacle(self, d: ImageDraw.ImageDraw, s: SceneState, i: int, r: Receptacle) -> None:
        x0, y0, x1, y1 = self.cell_box(r.cell)
        m = self.margin
        if self.text:
            self.fitted_text(d, (x0 + m, y0 + 1), r.name, self.cw - 2 * m, self.label_h - 1)
        bx0, by0, bx1, by1 = x0 + m, y0 + m + self.label_h, x1 - m, y1 - m
        colour = RECEP_COLOURS[r.cls]
        if r.toggleable:
            d.rectangle(
                (bx0, by0, bx1, by1), fill=_lighter(colour, 0.5), outline=INK, width=self.line
            )
            cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
            rad = min(bx1 - bx0, by1 - by0) * 0.28
            if r.is_on:
                glow = rad * 1.6
                d.ellipse((cx - glow, cy - glow, cx + glow, cy + glow), fill=LAMP_ON)
            d.ellipse(
                (cx - rad, cy - rad, cx + rad, cy + rad),
                fill=LAMP_ON if r.is_on else (70, 70, 70),
                outline=INK,
            )
            return
        if r.openable and not r.is_open:
            d.rectangle(
                (bx0, by0, bx1, by1), fill=_darker(colour, 0.15), outline=INK, width=self.line
            )
            if not s.is_searched(i):
                self.unseen(d, (bx0, by0, bx1, by1), _darker(colour, 0.15))
            hx = bx1 - (bx1 - bx0) * 0.15
            d.line(
                (hx, by0 + (by1 - by0) * 0.3, hx, by1 - (by1 - by0) * 0.3),
                fill=INK,
                width=max(1, self.line * 2),
            )
            return
        fill = _lighter(colour, 0.55) if r.openable else colour
        d.rectangle((bx0, by0, bx1, by1), fill=fill, outline=INK, width=self.line)
        if r.openable:  # open door swung to the left edge
            dw = max(2, (bx1 - bx0) * 0.12)
            d.rectangle((bx0, by0, bx0 + dw, by1), fill=_darker(colour, 0.15), outline=INK)
            bx0 += dw
        if s.is_searched(i):
            self.contents(d, s, i, (bx0, by0, bx1, by1), fill)
        else:
            self.unseen(d, (bx0, by0, bx1, by1), fill)

    def unseen(self, d: ImageDraw.ImageDraw, box: tuple[float, ...], bg: tuple[int, int, int]):
        """Mark a receptacle whose contents the agent has not seen (partially observable twin)."""
        bx0, by0, bx1, by1 = box
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
        if self.text:
            px = round(min(bx1 - bx0, by1 - by0) * 0.5)
            font = _font(px)
            w = d.textlength("?", font=font)
            ink = INK if sum(bg) > 330 else (250, 250, 250)
            d.text((cx - w / 2, cy - px * 0.6), "?", fill=ink, font=font)
        else:
            r = max(1.5, self.obj_r * 0.8)
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=UNSEEN)

    def contents(
        self,
        d: ImageDraw.ImageDraw,
        s: SceneState,
        i: int,
        box: tuple[float, ...],
        bg: tuple[int, int, int],
    ) -> None:
        here = [
            k for k, o in enumerate(s.objects) if o.loc == i and o.inside == NOWHERE and k != s.held
        ]
        if not here:
            return
        bx0, by0, bx1, by1 = box
        r, pad = self.obj_r, max(1.0, self.obj_r * 0.5)
        step = 2 * r + pad
        if self.text:
            rows = max(1, int((by1 - by0 - pad) // step))
            cols = (len(here) + rows - 1) // rows
            col_w = (bx1 - bx0) / max(1, cols)
            for n, k in enumerate(here):
                cx = bx0 + (n // rows) * col_w + pad + r + 1
                cy = by0 + pad + r + (n % rows) * step
                self.obj(d, cx, cy, r, s.objects[k], [s.objects[c] for c in s.contents(k)])
                name = display(s.objects[k].cls)
                self.fitted_text(
                    d, (cx + r + 2, cy - r), name, col_w - 2 * r - pad - 3, round(r * 1.6), bg
                )
        else:
            per_row = max(1, int((bx1 - bx0 - pad) // step))
            for n, k in enumerate(here):
                cx = bx0 + pad + r + (n % per_row) * step
                cy = by0 + pad + r + (n // per_row) * step
                self.obj(d, cx, cy, r, s.objects[k], [s.objects[c] for c in s.contents(k)])

    # --- agent and hand -------------------------------------------------------------------
    def agent(self, d: ImageDraw.ImageDraw, s: SceneState) -> None:
        rad = min(self.cw, self.ch) * 0.17
        if s.agent == NOWHERE:
            return  # in the middle of the room: shown in the strip on top only
        x0, y0, x1, y1 = self.cell_box(s.receptacles[s.agent].cell)
        w = max(2, self.line * 2 + 1)
        d.rectangle((x0 + 0.5, y0 + 0.5, x1 - 1, y1 - 1), outline=HIGHLIGHT, width=w)
        cx, cy = x1 - rad - self.margin - 1, y1 - rad - self.margin - 1
        d.ellipse(
            (cx - rad, cy - rad, cx + rad, cy + rad), fill=AGENT, outline=INK, width=self.line
        )
        if s.held != NOWHERE:
            o = s.objects[s.held]
            self.obj(
                d,
                cx - rad * 0.1,
                cy - rad * 0.1,
                rad * 0.6,
                o,
                [s.objects[c] for c in s.contents(s.held)],
            )

    def hud(self, d: ImageDraw.ImageDraw, s: SceneState) -> None:
        d.rectangle((0, 0, self.size - 1, self.hud_h - 1), fill=HUD)
        d.line((0, self.hud_h - 1, self.size, self.hud_h - 1), fill=INK, width=self.line)
        r = self.hud_h * 0.33
        cx, cy = self.hud_h * 0.5, self.hud_h * 0.5
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=AGENT)
        if s.held != NOWHERE:
            o = s.objects[s.held]
            self.obj(d, cx + self.hud_h * 0.9, cy, r, o, [s.objects[c] for c in s.contents(s.held)])
        if self.text:
            if s.held != NOWHERE:
                o = s.objects[s.held]
                inner = [s.objects[c].name for c in s.contents(s.held)]
                extra = f" with {', '.join(inner)}" if inner else ""
                text = f"holding {o.name}{self.state_words(o)}{extra}"
            else:
                text = "holding nothing"
            where = s.receptacles[s.agent].name if s.agent != NOWHERE else "middle of the room"
            px = max(8, round(self.hud_h * 0.42))
            x = cx + self.hud_h * 1.6
            self.fitted_text(d, (x, 1), text, self.size - x - 2, px, HUD)
            self.fitted_text(d, (x, self.hud_h * 0.5), f"at {where}", self.size - x - 2, px, HUD)


def draw_state(s: SceneState, size: int) -> np.ndarray:
    """RGB uint8 array (size, size, 3) of the state."""
    p = _Painter(int(size))
    img = Image.new("RGB", (p.size, p.size), FLOOR)
    d = ImageDraw.Draw(img)
    for c in range(1, GRID_COLS):
        d.line((c * p.cw, p.hud_h, c * p.cw, p.size), fill=GRID, width=1)
    for r in range(1, GRID_ROWS):
        y = p.hud_h + r * p.ch
        d.line((0, y, p.size, y), fill=GRID, width=1)
    for i, rec in enumerate(s.receptacles):
        p.receptacle(d, s, i, rec)
    p.agent(d, s)
    p.hud(d, s)
    return np.asarray(img, dtype=np.uint8)
