"""Program composition checked pixel by pixel."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from room_controller.composition import (
    BAR_COLOR,
    SLATE_COLOR,
    Composer,
    CompositionError,
    Corner,
    InvalidMaskError,
    Layout,
    LayoutKind,
    Overlays,
    PrivacyMask,
    TitleLine,
    UnknownLayoutError,
)

W, H = 1280, 720
RED = (0, 0, 255)
BLUE = (255, 0, 0)
GREEN = (0, 255, 0)
MAGENTA = (255, 0, 255)


def solid(w: int, h: int, color: tuple[int, int, int]) -> np.ndarray:
    image = np.empty((h, w, 3), np.uint8)
    image[:] = color
    image.flags.writeable = False  # sources hand out read-only frames
    return image


def is_color(region: np.ndarray, color: tuple[int, int, int]) -> bool:
    return bool((region == np.array(color, np.uint8)).all())


@pytest.fixture
def composer() -> Composer:
    return Composer(W, H)


def test_single_fills_the_output_and_letterboxes_other_aspects(composer: Composer) -> None:
    out = composer.compose({"red": solid(W, H, RED)}, Layout(LayoutKind.SINGLE, ("red",)))
    assert out.shape == (H, W, 3) and out.dtype == np.uint8 and is_color(out, RED)
    # 4:3 into 16:9: 960 wide, centred, bars of 160 px each side.
    out = composer.compose({"blue": solid(640, 480, BLUE)}, Layout("single", ("blue",)))
    assert is_color(out[:, 160:1120], BLUE)
    assert is_color(out[:, :160], BAR_COLOR) and is_color(out[:, 1120:], BAR_COLOR)


def test_side_by_side_puts_each_source_in_its_half(composer: Composer) -> None:
    frames = {"red": solid(1920, 1080, RED), "blue": solid(W, H, BLUE)}
    out = composer.compose(frames, Layout("side-by-side", ("red", "blue")))
    # 16:9 in a 640x720 cell: 640x360 centred vertically, bars above and below.
    assert is_color(out[180:540, :640], RED) and is_color(out[180:540, 640:], BLUE)
    assert is_color(out[:180], BAR_COLOR) and is_color(out[540:], BAR_COLOR)


@pytest.mark.parametrize("corner", list(Corner))
def test_pip_puts_the_inset_in_the_chosen_corner(composer: Composer, corner: Corner) -> None:
    frames = {"main": solid(W, H, RED), "inset": solid(W, H, BLUE)}
    layout = Layout("pip", ("main", "inset"), pip_corner=corner, pip_size=0.25)
    out = composer.compose(frames, layout)
    inset = composer.geometry(layout, {"main": (W, H), "inset": (W, H)})[1].content
    x, y, w, h = inset
    assert (w, h) == (320, 180)
    assert is_color(out[y:y + h, x:x + w], BLUE)
    left = corner in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT)
    top = corner in (Corner.TOP_LEFT, Corner.TOP_RIGHT)
    assert (x < W / 2) == left and (y < H / 2) == top
    # The main fills everything else except the inset and its thin outline.
    opposite = out[H - 1 - y - h:H - 1 - y, W - 1 - x - w:W - 1 - x]
    assert is_color(opposite, RED)
    blue_pixels = (out == np.array(BLUE, np.uint8)).all(axis=2).sum()
    assert blue_pixels == w * h


def test_grid_places_four_sources_and_an_empty_slot_shows_its_label(composer: Composer) -> None:
    frames = {"a": solid(W, H, RED), "b": solid(W, H, BLUE), "c": solid(W, H, GREEN)}
    layout = Layout("grid-2x2", ("a", "b", "c", "d"))
    out = composer.compose(frames, layout, labels={"d": "Endoscope"})
    assert is_color(out[:360, :640], RED) and is_color(out[:360, 640:], BLUE)
    assert is_color(out[360:, :640], GREEN)
    empty = out[360:, 640:]
    assert (empty == np.array(SLATE_COLOR, np.uint8)).all(axis=2).mean() > 0.9
    assert empty.max() > 100  # the label is written on it
    other = composer.compose(frames, layout, labels={"d": "Room camera"})
    assert not np.array_equal(other[360:, 640:], empty)


def test_every_pixel_is_drawn_in_every_layout_so_switching_never_flashes(
    composer: Composer,
) -> None:
    frames = {"a": solid(1920, 1080, RED), "b": solid(640, 480, BLUE), "c": solid(W, H, GREEN)}
    layouts = [
        Layout("single", ("b",)), Layout("grid-2x2", ("a", "b", "c", None)),
        Layout("pip", ("a", "b")), Layout("side-by-side", ("b", "c")),
        Layout("single", ("a",)), Layout("pip", ("b", None), pip_corner="top-left"),
    ]
    out = np.empty((H, W, 3), np.uint8)
    sentinel = (1, 2, 3)
    for layout in layouts:  # one buffer, layout changing every frame
        out[:] = sentinel
        result = composer.compose(frames, layout, out=out)
        assert result is out
        untouched = (out == np.array(sentinel, np.uint8)).all(axis=2)
        assert not untouched.any(), f"{layout.kind}: {untouched.sum()} pixels not drawn"
        assert out.max() > 0  # never an all-black frame while sources have pictures


def _secret_source(w: int, h: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """Red picture with textured green 'patient data' exactly inside `box` (fractions)."""
    image = np.empty((h, w, 3), np.uint8)
    image[:] = RED
    x0, y0 = round(box[0] * w), round(box[1] * h)
    x1, y1 = round((box[0] + box[2]) * w), round((box[1] + box[3]) * h)
    rng = np.random.default_rng(1)
    image[y0:y1, x0:x1, 0] = 0
    image[y0:y1, x0:x1, 1] = rng.integers(120, 256, (y1 - y0, x1 - x0), np.uint8)
    image[y0:y1, x0:x1, 2] = 0
    return image


@pytest.mark.parametrize("src_size", [(1920, 1080), (W, H), (800, 600), (320, 180), (333, 251)])
@pytest.mark.parametrize(
    "layout",
    [
        Layout("single", ("cam",)),
        Layout("side-by-side", ("other", "cam")),
        Layout("pip", ("other", "cam"), pip_size=0.3),
        Layout("pip", ("cam", "other")),
        Layout("grid-2x2", ("other", None, None, "cam")),
    ],
    ids=lambda layout: f"{layout.kind.value}-{layout.sources.index('cam')}",
)
def test_a_mask_follows_its_source_and_nothing_under_it_survives(
    composer: Composer, layout: Layout, src_size: tuple[int, int]
) -> None:
    box = (0.3, 0.2, 0.25, 0.3)
    frames = {"cam": _secret_source(*src_size, box), "other": solid(W, H, BLUE)}
    mask = PrivacyMask(*box, source="cam", color=MAGENTA)
    out = composer.compose(frames, layout, Overlays(masks=(mask,)))
    # No green anywhere, not inside the mask, not blended into its edges. Everything else in
    # the picture is red, blue, magenta or grey (bars, slates, outline), all with G <= B.
    leak = out[..., 1].astype(int) - out[..., 0].astype(int) > 8
    assert not leak.any(), f"masked content leaked into {leak.sum()} output pixels"
    # And the mask rectangle itself is exactly the mask colour.
    slot = next(s for s in composer.geometry(layout, {"cam": src_size, "other": (W, H)})
                if s.source == "cam")
    cx, cy, cw, ch = slot.content
    x0, y0 = int(np.ceil(cx + box[0] * cw)), int(np.ceil(cy + box[1] * ch))
    x1, y1 = int(cx + (box[0] + box[2]) * cw), int(cy + (box[1] + box[3]) * ch)
    assert x1 > x0 and y1 > y0
    assert is_color(out[y0:y1, x0:x1], MAGENTA)


def test_a_mask_on_a_source_not_shown_does_nothing_and_output_masks_cover_overlays(
    composer: Composer,
) -> None:
    frames = {"a": solid(W, H, RED)}
    masks = (PrivacyMask(0, 0, 0.5, 0.5, source="elsewhere"),
             PrivacyMask(0.5, 0.9, 0.5, 0.1, color=MAGENTA))
    out = composer.compose(frames, Layout("single", ("a",)),
                           Overlays(title=TitleLine("Septoplasty", "Dr Roe", "ENT"), masks=masks))
    assert is_color(out[:360, :640], RED)
    assert is_color(out[648:, 640:], MAGENTA)  # output mask over the title band


def test_title_band_and_clock(composer: Composer) -> None:
    frames = {"a": solid(W, H, RED)}
    overlays = Overlays(title=TitleLine("Endoscopic sinus surgery", "Dr A. Smith",
                                        "University Hospital"), clock=True)
    one = composer.compose(frames, Layout("single", ("a",)), overlays,
                           now=datetime(2024, 5, 1, 9, 30, 0))
    two = composer.compose(frames, Layout("single", ("a",)), overlays,
                           now=datetime(2024, 5, 1, 9, 30, 1))
    band = one[H - 47:]
    assert not (band == np.array(RED, np.uint8)).all(axis=2).any()  # opaque band
    assert band.max() > 200  # with text on it
    assert is_color(one[100:600, 100:1000], RED)
    diff = np.argwhere((one != two).any(axis=2))
    assert len(diff) > 0 and diff[:, 0].max() < 80 and diff[:, 1].min() > W - 250  # top right


def test_a_bad_frame_becomes_a_slate_not_an_error(composer: Composer) -> None:
    frames = {"a": np.zeros((H, W), np.float32)}
    out = composer.compose(frames, Layout("single", ("a",)), labels={"a": "Cam"})  # type: ignore[dict-item]
    assert (out == np.array(SLATE_COLOR, np.uint8)).all(axis=2).mean() > 0.9


def test_sources_are_never_written_to(composer: Composer) -> None:
    frame = _secret_source(W, H, (0.1, 0.1, 0.2, 0.2))
    before = frame.copy()
    frame.flags.writeable = False
    composer.compose({"a": frame}, Layout("single", ("a",)),
                     Overlays(masks=(PrivacyMask(0.1, 0.1, 0.2, 0.2, source="a"),)))
    assert np.array_equal(frame, before)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-0.1, 0, 0.5, 0.5), "leaves 0..1"),
        ((0.6, 0, 0.5, 0.5), "leaves 0..1"),
        ((0, 0.9, 0.5, 0.2), "leaves 0..1"),
        ((0, 0, 0, 0.5), "must be above 0"),
        ((0, 0, 0.5, -1), "must be above 0"),
        ((float("nan"), 0, 0.5, 0.5), "finite"),
    ],
)
def test_invalid_masks_are_refused(args: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(InvalidMaskError, match=message):
        PrivacyMask(*args, source="cam")


def test_invalid_layouts_are_refused() -> None:
    with pytest.raises(UnknownLayoutError, match="unknown layout 'triple'.*single, side-by-side"):
        Layout("triple", ("a",))  # type: ignore[arg-type]
    with pytest.raises(CompositionError, match="grid-2x2 has 4 slot"):
        Layout("grid-2x2", ("a", "b"))
    with pytest.raises(CompositionError, match="pip_size"):
        Layout("pip", ("a", "b"), pip_size=0.9)
    with pytest.raises(CompositionError, match="unknown corner"):
        Layout("pip", ("a", "b"), pip_corner="middle")  # type: ignore[arg-type]
    with pytest.raises(CompositionError, match="at least 16x16"):
        Composer(8, 8)
