"""StreamResampler: quality (THD+N), exact read positions, streaming, bad input."""

import numpy as np
import pytest

from parallax.resample import QUALITIES, StreamResampler, design_filter

RATE = 48_000


def thd_n_db(y: np.ndarray, rate: float, freq: float) -> float:
    """Power of everything but the fitted sine at ``freq`` (THD+N), dB below the sine."""
    t = np.arange(len(y)) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], 1)
    basis = np.column_stack([basis, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    sine = basis[:, :2] @ coef[:2]
    return float(10 * np.log10(np.sum((y - basis @ coef) ** 2) / np.sum(sine**2)))


def resample_sine(freq: float, ratio: float, quality: str, chunk: int = 4_800) -> np.ndarray:
    x = 0.5 * np.sin(2 * np.pi * freq * np.arange(2 * RATE) / RATE)
    resampler = StreamResampler(1, ratio, quality)
    out = [resampler.process(x[k : k + chunk, None], 1 / ratio) for k in range(0, len(x), chunk)]
    return np.concatenate(out)[2_000:-2_000, 0].astype(np.float64)  # skip the edges


@pytest.mark.parametrize("quality", list(QUALITIES))
@pytest.mark.parametrize("ratio", [1 - 500e-6, 1 + 80e-6, 44_100 / 48_000, 48_000 / 44_100])
def test_thd_n_of_a_resampled_sine_is_below_60_db(quality, ratio):
    for freq in (997.0, 9_973.0):
        level = thd_n_db(resample_sine(freq, ratio, quality), RATE * ratio, freq)
        assert level < -60, (quality, ratio, freq, level)


@pytest.mark.parametrize("ratio", [1 + 80e-6, 44_100 / 48_000])
def test_default_quality_thd_n_below_90_db_at_1_khz(ratio):
    assert thd_n_db(resample_sine(997.0, ratio, "medium"), RATE * ratio, 997.0) < -90


def test_plain_interpolation_would_fail_the_bound():
    # the threshold means something: linear interpolation of the same sine does far worse
    ratio, freq = 1 + 80e-6, 9_973.0
    x = 0.5 * np.sin(2 * np.pi * freq * np.arange(2 * RATE) / RATE)
    positions = np.arange(int(len(x) * ratio) - 10) / ratio
    y = np.interp(positions, np.arange(len(x)), x)
    assert thd_n_db(y, RATE * ratio, freq) > -40


def test_output_sample_k_is_the_input_at_position_k_times_step():
    # a slow sine is reproduced at exactly the requested positions
    freq, step = 50.0, 1.000123
    x = np.sin(2 * np.pi * freq * np.arange(RATE) / RATE).astype(np.float32)[:, None]
    resampler = StreamResampler(1, 1 / step)
    y = np.concatenate([resampler.process(x, step), resampler.flush(step)])[:, 0]
    positions = np.arange(len(y)) * step
    expected = np.sin(2 * np.pi * freq * positions / RATE)
    inner = slice(100, len(y) - 100)
    assert np.abs(y[inner] - expected[inner]).max() < 1e-4
    assert len(y) == int(np.ceil(RATE / step))  # every position before the input's end
    assert resampler.position == pytest.approx(len(y) * step)


def test_chunking_does_not_change_the_output():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((10_000, 2)).astype(np.float32)
    whole = StreamResampler(2, 0.97)
    a = np.concatenate([whole.process(x, 1 / 0.97), whole.flush(1 / 0.97)])
    pieces = StreamResampler(2, 0.97)
    parts = [pieces.process(x[k : k + n], 1 / 0.97) for k, n in ((0, 1), (1, 333), (334, 9666))]
    b = np.concatenate([*parts, pieces.flush(1 / 0.97)])
    np.testing.assert_array_equal(a, b)
    assert pieces.frames_in == 10_000 and pieces.frames_out == len(b)


def test_channels_are_resampled_independently():
    rng = np.random.default_rng(8)
    left = rng.standard_normal(5_000).astype(np.float32)
    stereo = StreamResampler(2, 1.01)
    mono = StreamResampler(1, 1.01)
    both = stereo.process(np.column_stack([left, -2 * left]), 1 / 1.01)
    one = mono.process(left[:, None], 1 / 1.01)
    np.testing.assert_allclose(both[:, 0], one[:, 0], atol=1e-6)
    np.testing.assert_allclose(both[:, 1], -2 * one[:, 0], atol=1e-5)


def test_filter_rows_have_unit_gain_and_bad_arguments_raise():
    table = design_filter(16, 64, 0.9, 8.0)
    assert table.shape == (65, 16)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(table[64, 1:], table[0, :-1], atol=1e-7)  # one tap on
    with pytest.raises(ValueError, match="multiple of 4"):
        design_filter(10, 64, 0.9, 8.0)
    with pytest.raises(ValueError, match="cutoff"):
        design_filter(16, 64, 0.0, 8.0)
    with pytest.raises(ValueError, match="quality"):
        StreamResampler(1, 1.0, "ultra")
    with pytest.raises(ValueError, match="ratio"):
        StreamResampler(1, float("nan"))
    with pytest.raises(ValueError, match="step"):
        StreamResampler(1).process(np.zeros((10, 1)), 0.0)


def test_kernel_refuses_positions_outside_the_input():
    from parallax._ext.resample import resample_block

    x = np.zeros((64, 1), np.float32)
    table = design_filter(16, 8, 0.9, 8.0)
    with pytest.raises(ValueError, match="outside"):
        resample_block(x, table, 2.0, 1.0, 4)  # needs frames before x[0]
    with pytest.raises(ValueError, match="outside"):
        resample_block(x, table, 7.0, 1.0, 60)  # runs past the end
    assert resample_block(x, table, 7.0, 1.0, 49).shape == (49, 1)  # last at 55: x[48..63]
