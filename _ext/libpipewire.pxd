# Extern declarations of the parts of libpipewire-0.3 and SPA that pipewire.pyx uses, from the
# real headers (include dirs from `pkg-config --cflags libpipewire-0.3`, see setup.py), so the
# SPA inline helpers (spa_buffer_find_meta, spa_format_*_parse, the pod builder) are the
# library's own. Macros that look like calls (pw_core_sync, pw_registry_add_listener) are
# declared as functions: Cython emits the call text and the preprocessor expands it.
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from posix.time cimport timespec


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass

    ctypedef struct pthread_cond_t:
        pass

    ctypedef struct pthread_condattr_t:
        pass

    int pthread_mutex_init(pthread_mutex_t *mutex, const void *attr)
    int pthread_mutex_destroy(pthread_mutex_t *mutex)
    int pthread_mutex_lock(pthread_mutex_t *mutex)
    int pthread_mutex_unlock(pthread_mutex_t *mutex)
    int pthread_condattr_init(pthread_condattr_t *attr)
    int pthread_condattr_setclock(pthread_condattr_t *attr, int clock_id)
    int pthread_condattr_destroy(pthread_condattr_t *attr)
    int pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr)
    int pthread_cond_destroy(pthread_cond_t *cond)
    int pthread_cond_broadcast(pthread_cond_t *cond)
    int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                               const timespec *abstime)


cdef extern from "<spa/utils/defs.h>" nogil:
    cdef struct spa_fraction:
        uint32_t num
        uint32_t denom

    cdef struct spa_rectangle:
        uint32_t width
        uint32_t height

    uint32_t SPA_ID_INVALID


cdef extern from "<spa/utils/dict.h>" nogil:
    cdef struct spa_dict:
        uint32_t flags
        uint32_t n_items

    const char *spa_dict_lookup(const spa_dict *dict, const char *key)


cdef extern from "<spa/utils/hook.h>" nogil:
    cdef struct spa_hook:
        pass

    void spa_hook_remove(spa_hook *hook)


cdef extern from "<spa/pod/pod.h>" nogil:
    cdef struct spa_pod:
        uint32_t size
        uint32_t type

    enum:
        SPA_CHOICE_None
        SPA_CHOICE_Range
        SPA_CHOICE_Enum
        SPA_CHOICE_Flags


cdef extern from "<spa/pod/builder.h>" nogil:
    cdef struct spa_pod_builder:
        pass

    cdef struct spa_pod_frame:
        pass

    void spa_pod_builder_init(spa_pod_builder *builder, void *data, uint32_t size)
    int spa_pod_builder_push_object(
        spa_pod_builder *builder, spa_pod_frame *frame, uint32_t type, uint32_t id
    )
    int spa_pod_builder_push_choice(
        spa_pod_builder *builder, spa_pod_frame *frame, uint32_t type, uint32_t flags
    )
    void *spa_pod_builder_pop(spa_pod_builder *builder, spa_pod_frame *frame)
    int spa_pod_builder_prop(spa_pod_builder *builder, uint32_t key, uint32_t flags)
    int spa_pod_builder_id(spa_pod_builder *builder, uint32_t value)
    int spa_pod_builder_int(spa_pod_builder *builder, int32_t value)
    int spa_pod_builder_rectangle(spa_pod_builder *builder, uint32_t width, uint32_t height)
    int spa_pod_builder_fraction(spa_pod_builder *builder, uint32_t num, uint32_t denom)


cdef extern from "<spa/param/param.h>" nogil:
    enum:
        SPA_PARAM_EnumFormat
        SPA_PARAM_Format
        SPA_PARAM_Buffers
        SPA_PARAM_Meta
        SPA_TYPE_OBJECT_Format
        SPA_TYPE_OBJECT_ParamBuffers
        SPA_TYPE_OBJECT_ParamMeta


cdef extern from "<spa/param/buffers.h>" nogil:
    enum:
        SPA_PARAM_BUFFERS_buffers
        SPA_PARAM_BUFFERS_dataType
        SPA_PARAM_META_type
        SPA_PARAM_META_size


cdef extern from "<spa/param/format.h>" nogil:
    enum:
        SPA_FORMAT_mediaType
        SPA_FORMAT_mediaSubtype
        SPA_FORMAT_VIDEO_format
        SPA_FORMAT_VIDEO_size
        SPA_FORMAT_VIDEO_framerate
        SPA_FORMAT_AUDIO_format
        SPA_FORMAT_AUDIO_rate
        SPA_FORMAT_AUDIO_channels
        SPA_MEDIA_TYPE_audio
        SPA_MEDIA_TYPE_video
        SPA_MEDIA_SUBTYPE_raw


cdef extern from "<spa/param/format-utils.h>" nogil:
    int spa_format_parse(const spa_pod *format, uint32_t *media_type, uint32_t *media_subtype)


cdef extern from "<spa/param/video/format-utils.h>" nogil:
    enum:
        SPA_VIDEO_FORMAT_UNKNOWN
        SPA_VIDEO_FORMAT_RGB
        SPA_VIDEO_FORMAT_BGR
        SPA_VIDEO_FORMAT_RGBx
        SPA_VIDEO_FORMAT_BGRx
        SPA_VIDEO_FORMAT_GRAY8
        SPA_VIDEO_FORMAT_YUY2
        SPA_VIDEO_FORMAT_UYVY

    cdef struct spa_video_info_raw:
        uint32_t format
        spa_rectangle size
        spa_fraction framerate
        spa_fraction max_framerate

    int spa_format_video_raw_parse(const spa_pod *format, spa_video_info_raw *info)


cdef extern from "<spa/param/audio/format-utils.h>" nogil:
    enum:
        SPA_AUDIO_FORMAT_UNKNOWN
        SPA_AUDIO_FORMAT_S16_LE
        SPA_AUDIO_FORMAT_S32_LE
        SPA_AUDIO_FORMAT_F32_LE

    cdef struct spa_audio_info_raw:
        uint32_t format
        uint32_t rate
        uint32_t channels

    int spa_format_audio_raw_parse(const spa_pod *format, spa_audio_info_raw *info)


cdef extern from "<spa/buffer/buffer.h>" nogil:
    enum:
        SPA_DATA_MemPtr
        SPA_DATA_MemFd
        SPA_CHUNK_FLAG_CORRUPTED

    cdef struct spa_chunk:
        uint32_t offset
        uint32_t size
        int32_t stride
        int32_t flags

    cdef struct spa_data:
        uint32_t type
        uint32_t flags
        int64_t fd
        uint32_t mapoffset
        uint32_t maxsize
        void *data
        spa_chunk *chunk

    cdef struct spa_meta:
        uint32_t type
        uint32_t size
        void *data

    cdef struct spa_buffer:
        uint32_t n_metas
        uint32_t n_datas
        spa_meta *metas
        spa_data *datas

    spa_meta *spa_buffer_find_meta(const spa_buffer *b, uint32_t type)
    void *spa_buffer_find_meta_data(const spa_buffer *b, uint32_t type, size_t size)


cdef extern from "<spa/buffer/meta.h>" nogil:
    enum:
        SPA_META_Header
        SPA_META_HEADER_FLAG_DISCONT
        SPA_META_HEADER_FLAG_CORRUPTED

    cdef struct spa_meta_header:
        uint32_t flags
        uint32_t offset
        int64_t pts
        int64_t dts_offset
        uint64_t seq


cdef extern from "<pipewire/pipewire.h>" nogil:
    void pw_init(int *argc, char ***argv)

    uint32_t PW_ID_CORE
    uint32_t PW_ID_ANY
    const char *PW_TYPE_INTERFACE_Node
    uint32_t PW_VERSION_REGISTRY
    uint32_t PW_VERSION_CORE_EVENTS
    uint32_t PW_VERSION_REGISTRY_EVENTS
    uint32_t PW_VERSION_STREAM_EVENTS

    # properties
    cdef struct pw_properties:
        spa_dict dict

    pw_properties *pw_properties_new(const char *key, ...)
    int pw_properties_set(pw_properties *properties, const char *key, const char *value)
    void pw_properties_free(pw_properties *properties)

    # thread loop
    cdef struct pw_loop:
        pass

    cdef struct pw_thread_loop:
        pass

    pw_thread_loop *pw_thread_loop_new(const char *name, const spa_dict *props)
    void pw_thread_loop_destroy(pw_thread_loop *loop)
    pw_loop *pw_thread_loop_get_loop(pw_thread_loop *loop)
    int pw_thread_loop_start(pw_thread_loop *loop)
    void pw_thread_loop_stop(pw_thread_loop *loop)
    void pw_thread_loop_lock(pw_thread_loop *loop)
    void pw_thread_loop_unlock(pw_thread_loop *loop)

    # context and core
    cdef struct pw_context:
        pass

    cdef struct pw_core:
        pass

    cdef struct pw_registry:
        pass

    cdef struct pw_proxy:
        pass

    cdef struct pw_core_events:
        uint32_t version
        void (*done)(void *data, uint32_t id, int seq) noexcept nogil
        void (*error)(void *data, uint32_t id, int seq, int res, const char *message) noexcept nogil

    cdef struct pw_registry_events:
        uint32_t version
        void (*glob "global")(
            void *data, uint32_t id, uint32_t permissions, const char *type, uint32_t version,
            const spa_dict *props
        ) noexcept nogil
        void (*global_remove)(void *data, uint32_t id) noexcept nogil

    pw_context *pw_context_new(pw_loop *main_loop, pw_properties *props, size_t user_data_size)
    void pw_context_destroy(pw_context *context)
    pw_core *pw_context_connect(pw_context *context, pw_properties *properties,
                                size_t user_data_size)
    pw_core *pw_context_connect_fd(pw_context *context, int fd, pw_properties *properties,
                                   size_t user_data_size)
    int pw_core_disconnect(pw_core *core)
    void pw_core_add_listener(pw_core *core, spa_hook *listener, const pw_core_events *events,
                              void *data)
    int pw_core_sync(pw_core *core, uint32_t id, int seq)
    pw_registry *pw_core_get_registry(pw_core *core, uint32_t version, size_t user_data_size)
    void pw_registry_add_listener(pw_registry *registry, spa_hook *listener,
                                  const pw_registry_events *events, void *data)
    void pw_proxy_destroy(pw_proxy *proxy)

    # stream
    cdef enum pw_direction:
        PW_DIRECTION_INPUT
        PW_DIRECTION_OUTPUT

    cdef enum pw_stream_state:
        PW_STREAM_STATE_ERROR
        PW_STREAM_STATE_UNCONNECTED
        PW_STREAM_STATE_CONNECTING
        PW_STREAM_STATE_PAUSED
        PW_STREAM_STATE_STREAMING

    enum:
        PW_STREAM_FLAG_AUTOCONNECT
        PW_STREAM_FLAG_INACTIVE
        PW_STREAM_FLAG_MAP_BUFFERS
        PW_STREAM_FLAG_DONT_RECONNECT
        PW_STREAM_FLAG_RT_PROCESS

    cdef struct pw_stream:
        pass

    cdef struct pw_buffer:
        spa_buffer *buffer
        void *user_data
        uint64_t size
        uint64_t requested

    cdef struct pw_time:
        int64_t now
        spa_fraction rate
        uint64_t ticks
        int64_t delay
        uint64_t queued
        uint64_t buffered
        uint32_t queued_buffers
        uint32_t avail_buffers

    cdef struct pw_stream_events:
        uint32_t version
        void (*destroy)(void *data) noexcept nogil
        void (*state_changed)(
            void *data, pw_stream_state old, pw_stream_state state, const char *error
        ) noexcept nogil
        void (*param_changed)(void *data, uint32_t id, const spa_pod *param) noexcept nogil
        void (*process)(void *data) noexcept nogil

    pw_stream *pw_stream_new(pw_core *core, const char *name, pw_properties *props)
    void pw_stream_destroy(pw_stream *stream)
    void pw_stream_add_listener(pw_stream *stream, spa_hook *listener,
                                const pw_stream_events *events, void *data)
    int pw_stream_connect(pw_stream *stream, pw_direction direction, uint32_t target_id,
                          int flags, const spa_pod **params, uint32_t n_params)
    int pw_stream_disconnect(pw_stream *stream)
    int pw_stream_update_params(pw_stream *stream, const spa_pod **params, uint32_t n_params)
    int pw_stream_set_active(pw_stream *stream, bint active)
    int pw_stream_get_time_n(pw_stream *stream, pw_time *time, size_t size)
    pw_buffer *pw_stream_dequeue_buffer(pw_stream *stream)
    int pw_stream_queue_buffer(pw_stream *stream, pw_buffer *buffer)
    const char *pw_stream_state_as_string(pw_stream_state state)
