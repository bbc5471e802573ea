"""Where each participant's video goes in a composition, as IVS's grid and
picture-in-picture layouts describe it. Pure geometry, no media."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Tile:
    x: int
    y: int
    width: int
    height: int


def _even(value: float) -> int:
    """A size: even (for 4:2:0 chroma) and at least 2."""
    return max(2, int(value) // 2 * 2)


def _at(value: float) -> int:
    """A position: even, so chroma planes line up."""
    return max(0, int(value) // 2 * 2)


def _grid(count: int, x: int, y: int, width: int, height: int, gap: int) -> list[Tile]:
    if count == 0:
        return []
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    tile_w = _even((width - gap * (columns - 1)) / columns)
    tile_h = _even((height - gap * (rows - 1)) / rows)
    tiles = []
    for index in range(count):
        row, column = divmod(index, columns)
        in_row = min(columns, count - row * columns)
        # A short last row is centred, as in a video call.
        offset = (width - (in_row * tile_w + (in_row - 1) * gap)) // 2
        tiles.append(Tile(_at(x + offset + column * (tile_w + gap)), _at(y + row * (tile_h + gap)), tile_w, tile_h))
    return tiles


def grid(count: int, width: int, height: int, *, gap: int = 2, featured: int | None = None) -> list[Tile]:
    """Tiles for `count` participants; a featured one (index) takes the left two
    thirds and the others share the right third."""
    if featured is None or count < 2:
        return _grid(count, 0, 0, width, height, gap)
    main_w = _even(width * 2 / 3 - gap / 2)
    others = _grid(count - 1, main_w + gap, 0, width - main_w - gap, height, gap)
    others.insert(featured, Tile(0, 0, main_w, height))
    return others


def pip(
    count: int,
    width: int,
    height: int,
    *,
    pip_index: int | None,
    position: str = "BOTTOM_RIGHT",
    pip_width: int | None = None,
    pip_height: int | None = None,
    offset: int = 0,
    gap: int = 0,
    behavior: str = "STATIC",
) -> list[Tile]:
    """Everyone but the PiP participant in a grid over the whole frame; the PiP one in
    a corner on top. Alone, the PiP participant stays in its corner (STATIC) or takes
    the whole frame (DYNAMIC)."""
    if pip_index is None or (count < 2 and behavior == "DYNAMIC"):
        return _grid(count, 0, 0, width, height, gap)
    tiles = _grid(count - 1, 0, 0, width, height, gap)
    w = _even(pip_width or width / 4)
    h = _even(pip_height or height / 4)
    x = offset if position.endswith("LEFT") else width - w - offset
    y = offset if position.startswith("TOP") else height - h - offset
    tiles.insert(pip_index, Tile(_at(x), _at(y), w, h))
    return tiles
