/* The object layout of pyalsaaudio 0.11's PCM (alsapcm_t in its alsaaudio.c).
 *
 * pyalsaaudio does not expose its snd_pcm_t, and Parallax needs snd_pcm_status() on it
 * (delay, trigger timestamp, and a timestamp whose errors are reported). _ext/alsa.pyx
 * checks this layout against every PCM before it trusts the handle: the type's basic size
 * must equal sizeof(pyalsaaudio_pcm) and the scalar fields must equal what the PCM reports.
 */
#ifndef PARALLAX_PYALSAAUDIO_PCM_H
#define PARALLAX_PYALSAAUDIO_PCM_H

#include <Python.h>
#include <alsa/asoundlib.h>

typedef struct {
    PyObject_HEAD
    long pcmtype;
    int pcmmode;
    char *cardname;
    snd_pcm_t *handle;
    unsigned int channels;
    unsigned int rate;
    snd_pcm_format_t format;
    unsigned int periods;
    snd_pcm_uframes_t periodsize;
    int framesize;
} pyalsaaudio_pcm;

#endif
