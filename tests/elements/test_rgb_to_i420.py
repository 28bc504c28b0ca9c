"""The RGB -> I420 kernel: exact against a pure-Python reference of BT.601 limited range in
16-bit fixed point, within one level of swscale, and every packed RGB byte order."""

from fractions import Fraction

import numpy as np
import pytest
from av.video.reformatter import VideoReformatter
from hypothesis import given, settings
from hypothesis import strategies as st

from parallax.caps import VideoFormat
from parallax.elements.transform.frames import (
    RGB_BYTE_OFFSETS,
    array_from_frame,
    frame_from_array,
    rgb_to_i420,
)

# BT.601: Kr = 0.299, Kb = 0.114; limited range scales luma by 219/255, chroma by 224/255
KR, KB = Fraction(299, 1000), Fraction(114, 1000)
KG = 1 - KR - KB
Y_SCALE, C_SCALE = Fraction(219, 255), Fraction(224, 255)


def fixed(value: Fraction) -> int:
    """A coefficient in 16 fraction bits, rounded to nearest (as the kernel's)."""
    return round(value * 2**16)


# Each row rounded to nearest except green, which takes the remainder so that every chroma
# row sums to 0 (grey has no colour: exactly 128) and luma's row sums to 219/255 (white is
# exactly 235).
Y = [fixed(k * Y_SCALE) for k in (KR, KG, KB)]
U = [fixed(-KR / (2 * (1 - KB)) * C_SCALE), 0, fixed(C_SCALE / 2)]
U[1] = -(U[0] + U[2])
V = [fixed(C_SCALE / 2), 0, fixed(-KB / (2 * (1 - KR)) * C_SCALE)]
V[1] = -(V[0] + V[2])


def reference(rgb: np.ndarray) -> np.ndarray:
    """I420 in Python ints, pixel by pixel (floor division floors like the kernel's shifts)."""
    height, width = rgb.shape[:2]
    pixels = rgb.astype(object)
    luma = [
        [16 + (sum(c * int(p) for c, p in zip(Y, pixels[i, j], strict=True)) + 2**15) // 2**16
         for j in range(width)]
        for i in range(height)
    ]  # fmt: skip
    us, vs = [], []
    for i in range(0, height, 2):
        for j in range(0, width, 2):
            sums = [int(pixels[i : i + 2, j : j + 2, c].sum()) for c in range(3)]
            us.append(128 + (sum(c * s for c, s in zip(U, sums, strict=True)) + 2**17) // 2**18)
            vs.append(128 + (sum(c * s for c, s in zip(V, sums, strict=True)) + 2**17) // 2**18)
    flat = [value for row in luma for value in row] + us + vs
    return np.array(flat, np.uint8).reshape(height * 3 // 2, width)


def packed(rgb: np.ndarray, pixel_format: str) -> np.ndarray:
    """The RGB picture laid out as ``pixel_format`` (x bytes set to garbage)."""
    channels = 4 if pixel_format.endswith("x") else 3
    out = np.full((*rgb.shape[:2], channels), 0x5A, np.uint8)
    for colour, offset in enumerate(RGB_BYTE_OFFSETS[pixel_format]):
        out[..., offset] = rgb[..., colour]
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6).map(lambda half: 2 * half),
    st.integers(1, 6).map(lambda half: 2 * half),
    st.sampled_from(sorted(RGB_BYTE_OFFSETS)),
    st.integers(0, 2**32 - 1),
)
def test_kernel_is_exactly_the_fixed_point_formula(width, height, pixel_format, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    fmt = VideoFormat(width, height, pixel_format, Fraction(30))
    assert np.array_equal(rgb_to_i420(packed(rgb, pixel_format), fmt), reference(rgb))


def test_extremes_and_the_coefficients_are_bt601():
    assert Y == [16829, 33039, 6416] and U == [-9714, -19070, 28784]
    assert V == [28784, -24103, -4681]
    corners = np.array([[[0, 0, 0], [255, 255, 255]], [[255, 0, 0], [0, 0, 255]]], np.uint8)
    assert np.array_equal(
        rgb_to_i420(corners, VideoFormat(2, 2, "RGB", Fraction(30))), reference(corners)
    )
    black = rgb_to_i420(np.zeros((2, 2, 3), np.uint8), VideoFormat(2, 2, "RGB", Fraction(30)))
    assert black.reshape(-1).tolist() == [16, 16, 16, 16, 128, 128]
    white = np.full((2, 2, 3), 255, np.uint8)
    assert rgb_to_i420(white, VideoFormat(2, 2, "RGB", Fraction(30))).reshape(-1).tolist() == [
        235, 235, 235, 235, 128, 128,
    ]  # fmt: skip


@pytest.mark.parametrize("pixel_format", sorted(RGB_BYTE_OFFSETS))
def test_within_one_level_of_swscale(pixel_format):
    rgb = np.random.default_rng(7).integers(0, 256, (48, 64, 3), np.uint8)
    source = VideoFormat(64, 48, pixel_format, Fraction(30))
    data = packed(rgb, pixel_format)
    swscale = VideoReformatter().reformat(
        frame_from_array(data, source), format="yuv420p", interpolation="AREA", threads=1
    )
    expected = array_from_frame(swscale, VideoFormat(64, 48, "I420", Fraction(30)))
    ours = rgb_to_i420(data, source)
    assert np.abs(ours.astype(int) - expected.astype(int)).max() <= 1


def test_bad_arrays_are_clear_errors():
    fmt = VideoFormat(4, 2, "RGB", Fraction(30))
    with pytest.raises(ValueError, match=r"RGB 4x2 frame is a uint8 array of shape \(2, 4, 3\)"):
        rgb_to_i420(np.zeros((2, 4, 4), np.uint8), fmt)
    with pytest.raises(ValueError, match="even size"):
        rgb_to_i420(np.zeros((3, 4, 3), np.uint8), VideoFormat(4, 3, "RGB", Fraction(30)))
    strided = np.zeros((4, 4, 3), np.uint8)[::2]  # not contiguous: converted from a copy
    assert rgb_to_i420(strided, fmt).shape == (3, 4)
