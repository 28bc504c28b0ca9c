"""A/V sync report: offsets and drift of two streams from their PTS."""

import numpy as np
import pytest

from parallax.avsync import av_sync_report
from parallax.time import sample_pts, scale_array


def card_stream(ppm: int, seconds: int, period: int = 480, jitter=0.0, seed=2):
    offsets = np.arange(0, 48_000 * seconds, period, dtype=np.int64)
    pts = scale_array(offsets, 10**15, 48_000 * (10**6 + ppm))
    if jitter:
        pts = pts + np.rint(np.random.default_rng(seed).normal(0, jitter, len(pts))).astype(
            np.int64
        )
        assert np.all(np.diff(pts) > 0)  # 10 ms periods, 0.5 ms jitter: still in order
    return pts, sample_pts(offsets, 48_000)


def test_card_played_by_count_drifts_against_video_by_pts():
    audio_pts, audio_nominal = card_stream(80, 900, jitter=500_000)
    video_pts = np.arange(0, 900 * 10**9, 10**9 // 30, dtype=np.int64)
    report = av_sync_report(video_pts, audio_pts, nominal_b=audio_nominal)
    assert report.time_ns[0] == audio_pts[0] and np.all(np.diff(report.time_ns) == 10 * 10**9)
    # played from its first (jittered) PTS on, by count: late by that jitter plus 80 ppm
    expected = audio_pts[0] + 80e-6 * report.time_ns
    assert np.abs(report.offset_ns - expected).max() < 50_000  # 50 us despite 0.5 ms jitter
    assert np.abs(report.drift_ppm - 80).max() < 2
    assert np.abs(report.lag_a_ns).max() == 0 and np.all(report.drift_a_ppm == 0)
    assert report.offset_ns[-1] == pytest.approx(80e-6 * 890e9, abs=0.6e6)  # ~71 ms


def test_two_cards_relative_drift_is_the_difference():
    a_pts, a_nominal = card_stream(30, 300)
    b_pts, b_nominal = card_stream(-20, 300, period=441)
    report = av_sync_report(a_pts, b_pts, nominal_a=a_nominal, nominal_b=b_nominal)
    np.testing.assert_allclose(report.drift_a_ppm, 30, atol=0.01)
    np.testing.assert_allclose(report.drift_b_ppm, -20, atol=0.01)
    np.testing.assert_allclose(report.drift_ppm, -50, atol=0.02)


def test_bad_input_raises():
    good = np.arange(10, dtype=np.int64) * 1000
    with pytest.raises(TypeError, match="pts_a"):
        av_sync_report(good.astype(float), good)
    with pytest.raises(ValueError, match="at least 2"):
        av_sync_report(good[:1], good)
    with pytest.raises(ValueError, match="strictly increase"):
        av_sync_report(good[::-1].copy(), good)
    with pytest.raises(TypeError, match="nominal_b"):
        av_sync_report(good, good, nominal_b=good[:5])
    with pytest.raises(ValueError, match="overlap"):
        av_sync_report(good, good + 10**6)
    with pytest.raises(ValueError, match="window_ns"):
        av_sync_report(good, good, window_ns=0)
