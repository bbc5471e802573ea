"""The compositor's geometry, as IVS describes its grid and PiP layouts."""

from mediaplane.compositor.layout import Tile, grid, pip


def test_grid_shares_the_frame_and_centres_a_short_last_row():
    assert grid(1, 1280, 720, gap=0) == [Tile(0, 0, 1280, 720)]
    assert grid(2, 1280, 720, gap=0) == [Tile(0, 0, 640, 720), Tile(640, 0, 640, 720)]
    three = grid(3, 1280, 720, gap=0)
    assert three[2] == Tile(320, 360, 640, 360)  # centred below the first two


def test_featured_participant_is_enlarged():
    tiles = grid(3, 1280, 720, gap=4, featured=1)
    assert tiles[1].x == 0 and tiles[1].width > 800 and tiles[1].height == 720
    assert all(t.x > tiles[1].width for n, t in enumerate(tiles) if n != 1)


def test_pip_corner_size_and_behaviour():
    tiles = pip(2, 1280, 720, pip_index=1, position="TOP_LEFT", pip_width=320, pip_height=180, offset=20)
    assert tiles == [Tile(0, 0, 1280, 720), Tile(20, 20, 320, 180)]
    alone_static = pip(1, 1280, 720, pip_index=0, position="BOTTOM_RIGHT", behavior="STATIC")
    assert alone_static == [Tile(960, 540, 320, 180)]
    assert pip(1, 1280, 720, pip_index=0, behavior="DYNAMIC") == [Tile(0, 0, 1280, 720)]
