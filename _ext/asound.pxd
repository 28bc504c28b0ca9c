# Extern declarations of the parts of <alsa/asoundlib.h> that _ext/alsa.pyx uses, and of
# pyalsaaudio's PCM object layout (_ext/pyalsaaudio_pcm.h). The C compiler sees the real
# headers, so nothing here can drift from them unnoticed.

cdef extern from "alsa/asoundlib.h" nogil:
    ctypedef struct snd_pcm_t:
        pass
    ctypedef struct snd_pcm_status_t:
        pass
    ctypedef long snd_pcm_sframes_t
    ctypedef unsigned long snd_pcm_uframes_t
    ctypedef int snd_pcm_state_t
    ctypedef int snd_pcm_stream_t
    ctypedef int snd_pcm_format_t

    ctypedef struct snd_htimestamp_t:
        long tv_sec
        long tv_nsec

    int snd_pcm_status_malloc(snd_pcm_status_t **ptr)
    void snd_pcm_status_free(snd_pcm_status_t *obj)
    int snd_pcm_status(snd_pcm_t *pcm, snd_pcm_status_t *status)
    snd_pcm_state_t snd_pcm_status_get_state(const snd_pcm_status_t *obj)
    void snd_pcm_status_get_htstamp(const snd_pcm_status_t *obj, snd_htimestamp_t *ptr)
    void snd_pcm_status_get_trigger_htstamp(const snd_pcm_status_t *obj, snd_htimestamp_t *ptr)
    snd_pcm_uframes_t snd_pcm_status_get_avail(const snd_pcm_status_t *obj)
    snd_pcm_sframes_t snd_pcm_status_get_delay(const snd_pcm_status_t *obj)
    snd_pcm_stream_t snd_pcm_stream(snd_pcm_t *pcm)

    ctypedef struct snd_pcm_hw_params_t:
        pass
    int snd_pcm_hw_params_malloc(snd_pcm_hw_params_t **ptr)
    void snd_pcm_hw_params_free(snd_pcm_hw_params_t *obj)
    int snd_pcm_hw_params_any(snd_pcm_t *pcm, snd_pcm_hw_params_t *params)
    int snd_pcm_hw_params_get_channels_min(const snd_pcm_hw_params_t *params, unsigned int *val)
    int snd_pcm_hw_params_get_channels_max(const snd_pcm_hw_params_t *params, unsigned int *val)


cdef extern from "pyalsaaudio_pcm.h":
    ctypedef struct pyalsaaudio_pcm:
        long pcmtype
        int pcmmode
        snd_pcm_t *handle
        unsigned int channels
        unsigned int rate
        snd_pcm_format_t format
        unsigned int periods
        snd_pcm_uframes_t periodsize
        int framesize
