"""ALSA PCM status for pyalsaaudio PCMs: what pyalsaaudio 0.11 does not give.

pyalsaaudio has no ``delay()``, no trigger timestamp, and its ``htimestamp()`` ignores
``snd_pcm_htimestamp``'s error (it then returns uninitialised memory). Parallax needs all
three: the capture anchor and the playback clock come from one consistent
``snd_pcm_status()`` (state, htstamp, trigger htstamp, avail, delay) whose failure is an
error. pyalsaaudio does not expose its ``snd_pcm_t`` either, so `PcmStatus` reads it out of
the PCM object, after checking the object's layout (`check_pcm`).
"""

from cpython.object cimport PyObject, Py_TYPE

from asound cimport (
    pyalsaaudio_pcm,
    snd_htimestamp_t,
    snd_pcm_status,
    snd_pcm_status_free,
    snd_pcm_status_get_avail,
    snd_pcm_status_get_delay,
    snd_pcm_status_get_htstamp,
    snd_pcm_status_get_state,
    snd_pcm_status_get_trigger_htstamp,
    snd_pcm_status_malloc,
    snd_pcm_status_t,
    snd_pcm_t,
    snd_pcm_hw_params_t,
    snd_pcm_hw_params_any,
    snd_pcm_hw_params_free,
    snd_pcm_hw_params_get_channels_max,
    snd_pcm_hw_params_get_channels_min,
    snd_pcm_hw_params_malloc,
)

cdef extern from *:
    """
    #include "pyalsaaudio_pcm.h"
    #define PX_PYALSAAUDIO_PCM_SIZE ((Py_ssize_t)sizeof(pyalsaaudio_pcm))
    """
    Py_ssize_t PX_PYALSAAUDIO_PCM_SIZE


def check_pcm(object pcm, int rate, int channels, int periodsize):
    """Check that ``pcm`` is a pyalsaaudio PCM laid out as `PcmStatus` expects.

    Parameters
    ----------
    pcm : alsaaudio.PCM
        An open PCM.
    rate, channels, periodsize : int
        What ``pcm.info()`` reports: the object's fields must hold the same.

    Raises
    ------
    TypeError
        The object is not a pyalsaaudio 0.11 PCM (another version changed its layout).
    """
    cdef pyalsaaudio_pcm *raw
    kind = type(pcm)
    if (kind.__module__, kind.__name__) != ("alsaaudio", "PCM"):
        raise TypeError(f"expected an alsaaudio.PCM, got {kind.__module__}.{kind.__name__}")
    if Py_TYPE(pcm).tp_basicsize != PX_PYALSAAUDIO_PCM_SIZE:
        raise TypeError(
            f"alsaaudio.PCM objects are {Py_TYPE(pcm).tp_basicsize} bytes, expected "
            f"{PX_PYALSAAUDIO_PCM_SIZE}: pyalsaaudio changed its layout (Parallax needs 0.11)"
        )
    raw = <pyalsaaudio_pcm *><PyObject *>pcm
    found = (raw.pcmtype, raw.rate, raw.channels, raw.periodsize)
    wanted = (pcm.pcmtype(), rate, channels, periodsize)
    if found != wanted:
        raise TypeError(
            f"alsaaudio.PCM fields {found} do not match {wanted}: pyalsaaudio changed its "
            "layout (Parallax needs 0.11)"
        )


cdef class PcmStatus:
    """Read ``snd_pcm_status()`` of one checked pyalsaaudio PCM.

    Parameters
    ----------
    pcm : alsaaudio.PCM
        Checked with `check_pcm` first. The caller serialises `read` with closing the PCM
        (the handle must not be closed while `read` runs).
    """

    cdef object pcm
    cdef snd_pcm_status_t *status

    def __cinit__(self, object pcm):
        self.pcm = pcm
        if snd_pcm_status_malloc(&self.status) < 0:
            raise MemoryError("snd_pcm_status_malloc failed")

    def __dealloc__(self):
        if self.status is not NULL:
            snd_pcm_status_free(self.status)

    def read(self):
        """Return ``(state, htstamp_ns, trigger_ns, avail, delay)`` of the PCM now.

        ``htstamp_ns`` is when the hardware position was last updated and ``trigger_ns`` when
        the stream started, both in the PCM's timestamp clock (MONOTONIC once
        ``set_tstamp_type(PCM_TSTAMP_TYPE_MONOTONIC)``), ns; 0 when the driver or plugin
        gave none. ``avail`` (frames ready to read or free to write) and ``delay`` (frames
        between the application pointer and the sample heard or captured now) are for that
        same position.

        Raises
        ------
        OSError
            ``snd_pcm_status`` failed (errno set); the PCM is closed (EBADF).
        """
        cdef snd_pcm_t *handle = (<pyalsaaudio_pcm *><PyObject *>self.pcm).handle
        cdef snd_htimestamp_t tstamp, trigger
        cdef int err
        if handle is NULL:
            raise OSError(9, "the PCM is closed")
        err = snd_pcm_status(handle, self.status)
        if err < 0:
            raise OSError(-err, f"snd_pcm_status failed (errno {-err})")
        snd_pcm_status_get_htstamp(self.status, &tstamp)
        snd_pcm_status_get_trigger_htstamp(self.status, &trigger)
        return (
            <int>snd_pcm_status_get_state(self.status),
            tstamp.tv_sec * 1_000_000_000 + tstamp.tv_nsec,
            trigger.tv_sec * 1_000_000_000 + trigger.tv_nsec,
            <long>snd_pcm_status_get_avail(self.status),
            <long>snd_pcm_status_get_delay(self.status),
        )


def channel_bounds(object pcm):
    """Return ``(min, max)`` channels the PCM's device supports.

    pyalsaaudio's ``getchannels()`` tries every count in between, which never ends on
    plugins that allow up to 2^32 - 1 channels.

    Raises
    ------
    OSError
        The PCM is closed, or ALSA refused (errno set).
    """
    cdef snd_pcm_t *handle = (<pyalsaaudio_pcm *><PyObject *>pcm).handle
    cdef snd_pcm_hw_params_t *params = NULL
    cdef unsigned int low = 0, high = 0
    cdef int err
    if handle is NULL:
        raise OSError(9, "the PCM is closed")
    if snd_pcm_hw_params_malloc(&params) < 0:
        raise MemoryError("snd_pcm_hw_params_malloc failed")
    try:
        err = snd_pcm_hw_params_any(handle, params)
        if err >= 0:
            err = snd_pcm_hw_params_get_channels_min(params, &low)
        if err >= 0:
            err = snd_pcm_hw_params_get_channels_max(params, &high)
        if err < 0:
            raise OSError(-err, f"reading the channel range failed (errno {-err})")
        return low, high
    finally:
        snd_pcm_hw_params_free(params)
