/* Native twin of media/fastpath.py: the per-packet fan-out of a producer.
 *
 * One call per incoming packet (Fanout.forward): for every route (a running
 * consumer) write the rewritten RTP header, the subscriber's extension
 * prefix and the shared tail (per-packet extension element + payload) into a
 * preallocated buffer, SRTP-protect it, and hand the datagrams to the kernel
 * with sendmmsg, one call per run of routes that share a socket.
 *
 * SRTP goes through the libsrtp that pylibsrtp loaded: media/fastpath.py
 * passes the address of its srtp_protect and each route's srtp_t as integers,
 * so there is one libsrtp with one global state, and no headers or library
 * to link here.
 *
 * The payload type is chosen per packet: a RED (RFC 2198) packet goes as it
 * is, block headers retagged with the route's Opus payload type, to a route
 * that negotiated RED, and as its primary block alone to any other; a RED
 * packet that does not parse goes to nobody and is counted (media/red.py).
 *
 * A video route may move the VP8 picture id and TL0PICIDX by its own offsets:
 * a subscriber switched between simulcast layers sees one continuous stream.
 *
 * Behaviour must stay identical to the Python twin; tests run both.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define SRTP_BUFFER 2048
#define SRTP_MARGIN 64 /* room for the SRTP tag (at most 16 bytes) and MKI */
#define MAX_PREFIX 64
#define MAX_REDUNDANT_BLOCKS 8 /* media/red.py */
#define NO_RED (-1)

typedef int (*protect_fn)(void *ctx, void *hdr, int *len);

static protect_fn srtp_protect_ptr = NULL;
static unsigned long long send_errors = 0;
static unsigned long long protect_errors = 0;
static unsigned long long syscalls = 0;

/* --- Destination: the nominated ICE pair of one media socket ------------- */

typedef struct {
    PyObject_HEAD
    int fd; /* -1 while not connected */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} Destination;

static int Destination_init(Destination *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "", kwlist))
        return -1;
    self->fd = -1;
    self->addrlen = 0;
    memset(&self->addr, 0, sizeof(self->addr));
    return 0;
}

static PyObject *Destination_bind(Destination *self, PyObject *args) {
    int fd, port;
    const char *host;
    if (!PyArg_ParseTuple(args, "isi", &fd, &host, &port))
        return NULL;
    if (fd < 0 || port < 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "invalid socket or port");
        return NULL;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    socklen_t addrlen;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        addrlen = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        addrlen = sizeof(*v6);
    } else {
        PyErr_Format(PyExc_ValueError, "not a numeric address: %s", host);
        return NULL;
    }
    self->addr = addr;
    self->addrlen = addrlen;
    self->fd = fd;
    Py_RETURN_NONE;
}

static PyObject *Destination_disconnect(Destination *self, PyObject *unused) {
    self->fd = -1;
    Py_RETURN_NONE;
}

static PyObject *Destination_get_ready(Destination *self, void *closure) {
    return PyBool_FromLong(self->fd >= 0);
}

static PyMethodDef Destination_methods[] = {
    {"bind", (PyCFunction)Destination_bind, METH_VARARGS,
     "bind(fd, host, port): send on socket fd to this numeric address."},
    {"disconnect", (PyCFunction)Destination_disconnect, METH_NOARGS,
     "Stop sending (the connection is gone or renegotiating)."},
    {NULL}};

static PyGetSetDef Destination_getset[] = {
    {"ready", (getter)Destination_get_ready, NULL, "True while connected.", NULL}, {NULL}};

static PyTypeObject DestinationType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media._fastpath.Destination",
    .tp_basicsize = sizeof(Destination),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Where one media socket sends: a UDP socket and the peer's address.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Destination_init,
    .tp_methods = Destination_methods,
    .tp_getset = Destination_getset,
};

/* --- Fanout: the running consumers of one producer ------------------------ */

typedef struct {
    uint8_t b1; /* payload type; the marker bit is or-ed in per packet */
    int red_b1; /* RED payload type, NO_RED: the subscriber has no RED */
    uint16_t picture_offset; /* VP8 picture id and TL0PICIDX offsets (optional) */
    uint8_t tl0_offset;
    uint16_t seq_offset;
    uint32_t ts_offset;
    uint32_t ssrc;
    uint8_t prefix[MAX_PREFIX];
    size_t prefix_len;
    Destination *dest; /* borrowed: the Fanout holds the route tuples */
    void *context;     /* srtp_t */
} Route;

typedef struct {
    PyObject_HEAD
    Py_ssize_t count;
    Route *routes;
    PyObject *keep; /* the route tuples: they own the Destinations */
    uint8_t *buffers;
    struct mmsghdr *messages;
    struct iovec *iovecs;
    unsigned long long malformed; /* RED packets that did not parse */
} Fanout;

static void Fanout_dealloc(Fanout *self) {
    PyMem_Free(self->routes);
    PyMem_Free(self->buffers);
    PyMem_Free(self->messages);
    PyMem_Free(self->iovecs);
    Py_XDECREF(self->keep);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int route_from_tuple(PyObject *item, Route *route) {
    PyObject *prefix, *dest;
    unsigned int b1;
    unsigned long seq_offset, ts_offset, ssrc;
    unsigned long long context;
    int red_b1 = NO_RED;
    unsigned long picture_offset = 0, tl0_offset = 0;
    if (!PyTuple_Check(item)) {
        PyErr_SetString(PyExc_TypeError, "a route is a tuple");
        return -1;
    }
    Py_ssize_t fields = PyTuple_GET_SIZE(item);
    if (fields != 7 && fields != 8 && fields != 10) {
        PyErr_SetString(PyExc_ValueError, "a route has 7, 8 or 10 fields");
        return -1;
    }
    if (!PyArg_ParseTuple(item, "IkkkSOK|ikk", &b1, &seq_offset, &ts_offset, &ssrc, &prefix,
                          &dest, &context, &red_b1, &picture_offset, &tl0_offset))
        return -1;
    if (!PyObject_TypeCheck(dest, &DestinationType)) {
        PyErr_SetString(PyExc_TypeError, "route destination is not a native Destination");
        return -1;
    }
    Py_ssize_t prefix_len = PyBytes_GET_SIZE(prefix);
    if (b1 > 0x7F || seq_offset > 0xFFFF || ts_offset > 0xFFFFFFFFUL || ssrc > 0xFFFFFFFFUL ||
        prefix_len > MAX_PREFIX || context == 0 || red_b1 < NO_RED || red_b1 > 0x7F ||
        picture_offset > 0x7FFF || tl0_offset > 0xFF) {
        PyErr_SetString(PyExc_ValueError, "route field out of range");
        return -1;
    }
    route->b1 = (uint8_t)b1;
    route->red_b1 = red_b1;
    route->picture_offset = (uint16_t)picture_offset;
    route->tl0_offset = (uint8_t)tl0_offset;
    route->seq_offset = (uint16_t)seq_offset;
    route->ts_offset = (uint32_t)ts_offset;
    route->ssrc = (uint32_t)ssrc;
    memcpy(route->prefix, PyBytes_AS_STRING(prefix), (size_t)prefix_len);
    route->prefix_len = (size_t)prefix_len;
    route->dest = (Destination *)dest;
    route->context = (void *)(uintptr_t)context;
    return 0;
}

static int compare_routes(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const Route *)a)->dest, y = (uintptr_t)((const Route *)b)->dest;
    return (x > y) - (x < y);
}

static int Fanout_init(Fanout *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"routes", NULL};
    PyObject *routes;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", kwlist, &routes))
        return -1;
    if (srtp_protect_ptr == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "call media._fastpath.init(srtp_protect) first");
        return -1;
    }
    PyObject *tuple = PySequence_Tuple(routes);
    if (tuple == NULL)
        return -1;
    Py_ssize_t count = PyTuple_GET_SIZE(tuple);
    size_t n = count > 0 ? (size_t)count : 1;
    Route *parsed = PyMem_Calloc(n, sizeof(Route));
    uint8_t *buffers = PyMem_Malloc(n * SRTP_BUFFER);
    struct mmsghdr *messages = PyMem_Calloc(n, sizeof(struct mmsghdr));
    struct iovec *iovecs = PyMem_Calloc(n, sizeof(struct iovec));
    if (!parsed || !buffers || !messages || !iovecs) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (route_from_tuple(PyTuple_GET_ITEM(tuple, i), &parsed[i]) < 0)
            goto fail;
    }
    /* Routes of one socket next to each other: one sendmmsg per socket. */
    qsort(parsed, (size_t)count, sizeof(Route), compare_routes);
    PyMem_Free(self->routes);
    PyMem_Free(self->buffers);
    PyMem_Free(self->messages);
    PyMem_Free(self->iovecs);
    Py_XSETREF(self->keep, tuple);
    self->routes = parsed;
    self->buffers = buffers;
    self->messages = messages;
    self->iovecs = iovecs;
    self->count = count;
    return 0;
fail:
    PyMem_Free(parsed);
    PyMem_Free(buffers);
    PyMem_Free(messages);
    PyMem_Free(iovecs);
    Py_DECREF(tuple);
    return -1;
}

static inline void put16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Send messages[start:end) on fd; a refused datagram is skipped (UDP). */
static void send_run(int fd, struct mmsghdr *messages, unsigned int count) {
    unsigned int done = 0;
    while (done < count) {
        syscalls++;
        int sent = sendmmsg(fd, messages + done, count - done, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            send_errors++;
            done++;
        } else {
            done += (unsigned int)sent;
        }
    }
}

/* RFC 2198: the offset of the primary block's data in p[start:len), the
 * redundant blocks in *blocks; -1 when malformed (as media/red.py parse). */
static Py_ssize_t red_primary(const uint8_t *p, size_t len, size_t start, int *blocks) {
    size_t pos = start, data = 0;
    int count = 0;
    for (;;) {
        if (pos >= len)
            return -1;
        if (!(p[pos] & 0x80))
            break;
        if (pos + 4 > len || count == MAX_REDUNDANT_BLOCKS)
            return -1;
        data += ((size_t)(p[pos + 2] & 0x03) << 8) | p[pos + 3];
        pos += 4;
        count++;
    }
    size_t primary = pos + 1 + data;
    if (primary >= len)
        return -1;
    *blocks = count;
    return (Py_ssize_t)primary;
}

/* Move the VP8 picture id and TL0PICIDX of one copy of the tail by the
 * route's offsets; vp8 packs their positions (media/vp8.py descriptor_fields). */
static inline void rewrite_vp8(uint8_t *tail, size_t tail_len, unsigned long vp8,
                               const Route *route) {
    size_t pos = vp8 & 0xFF, tl0 = (vp8 >> 9) & 0xFF;
    int two = (vp8 & 0x100) != 0;
    if (pos + (size_t)two >= tail_len || tl0 >= tail_len)
        return; /* positions past the end: nothing rewritten (as in Python) */
    if (pos) {
        if (two) {
            uint32_t value = ((uint32_t)(tail[pos] & 0x7F) << 8) | tail[pos + 1];
            value = (value + route->picture_offset) & 0x7FFF;
            tail[pos] = (uint8_t)(0x80 | (value >> 8));
            tail[pos + 1] = (uint8_t)value;
        } else {
            tail[pos] = (uint8_t)((tail[pos] + route->picture_offset) & 0x7F);
        }
    }
    if (tl0)
        tail[tl0] = (uint8_t)(tail[tl0] + route->tl0_offset);
}

/* forward(marker, seq, timestamp, tail[, red[, vp8]]) -> datagrams handed to the kernel */
static PyObject *Fanout_forward(Fanout *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 4 || nargs > 6) {
        PyErr_SetString(PyExc_TypeError, "forward(marker, seq, timestamp, tail[, red[, vp8]])");
        return NULL;
    }
    unsigned long marker = PyLong_AsUnsignedLong(args[0]);
    unsigned long seq = PyLong_AsUnsignedLong(args[1]);
    unsigned long timestamp = PyLong_AsUnsignedLong(args[2]);
    long red = nargs >= 5 ? PyLong_AsLong(args[4]) : NO_RED;
    unsigned long vp8 = nargs == 6 ? PyLong_AsUnsignedLong(args[5]) : 0;
    if (PyErr_Occurred())
        return NULL;
    if (red < NO_RED) {
        PyErr_SetString(PyExc_ValueError, "red is -1 or where the RED payload starts in the tail");
        return NULL;
    }
    if (vp8 > 0x1FFFF) {
        PyErr_SetString(PyExc_ValueError, "vp8 positions out of range");
        return NULL;
    }
    if (!PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "tail must be bytes");
        return NULL;
    }
    if (marker & ~0x80UL || seq > 0xFFFF || timestamp > 0xFFFFFFFFUL) {
        PyErr_SetString(PyExc_ValueError, "marker, sequence or timestamp out of range");
        return NULL;
    }
    const uint8_t *tail = (const uint8_t *)PyBytes_AS_STRING(args[3]);
    size_t tail_len = (size_t)PyBytes_GET_SIZE(args[3]);
    int blocks = 0;
    size_t primary = 0;
    if (red != NO_RED) {
        Py_ssize_t found = red_primary(tail, tail_len, (size_t)red, &blocks);
        if (found < 0) {
            self->malformed++;
            return PyLong_FromLong(0);
        }
        primary = (size_t)found;
    }

    Py_ssize_t queued = 0, sent = 0;
    int run_fd = -1;
    Py_ssize_t run_start = 0;
    for (Py_ssize_t i = 0; i < self->count; i++) {
        Route *route = &self->routes[i];
        int fd = route->dest->fd;
        if (fd < 0)
            continue;
        /* A RED packet to a route without RED: the primary block alone. */
        int strip = red != NO_RED && route->red_b1 == NO_RED;
        size_t body_len = strip ? (size_t)red + (tail_len - primary) : tail_len;
        size_t size = 12 + route->prefix_len + body_len;
        if (size > SRTP_BUFFER - SRTP_MARGIN)
            continue; /* larger than any MTU: never produced by a publisher */
        uint8_t *buffer = self->buffers + (size_t)queued * SRTP_BUFFER;
        uint8_t payload_type = route->b1;
        if (red != NO_RED && !strip)
            payload_type = (uint8_t)route->red_b1;
        buffer[0] = 0x90;
        buffer[1] = (uint8_t)(payload_type | marker);
        put16(buffer + 2, (uint32_t)((seq + route->seq_offset) & 0xFFFF));
        put32(buffer + 4, (uint32_t)((timestamp + route->ts_offset) & 0xFFFFFFFFUL));
        put32(buffer + 8, route->ssrc);
        memcpy(buffer + 12, route->prefix, route->prefix_len);
        uint8_t *body = buffer + 12 + route->prefix_len;
        if (strip) {
            memcpy(body, tail, (size_t)red);
            memcpy(body + red, tail + primary, tail_len - primary);
        } else {
            memcpy(body, tail, tail_len);
            if (red != NO_RED) {
                /* The block headers name the subscriber's Opus payload type. */
                uint8_t *header = body + red;
                for (int b = 0; b < blocks; b++, header += 4)
                    *header = (uint8_t)((*header & 0x80) | route->b1);
                *header = route->b1;
            } else if (vp8 && (route->picture_offset || route->tl0_offset)) {
                rewrite_vp8(body, tail_len, vp8, route);
            }
        }
        int length = (int)size;
        if (srtp_protect_ptr(route->context, buffer, &length) != 0) {
            protect_errors++;
            continue;
        }
        if (fd != run_fd) {
            if (queued > run_start)
                send_run(run_fd, self->messages + run_start, (unsigned int)(queued - run_start));
            run_fd = fd;
            run_start = queued;
        }
        struct iovec *iov = &self->iovecs[queued];
        iov->iov_base = buffer;
        iov->iov_len = (size_t)length;
        struct msghdr *header = &self->messages[queued].msg_hdr;
        header->msg_name = &route->dest->addr;
        header->msg_namelen = route->dest->addrlen;
        header->msg_iov = iov;
        header->msg_iovlen = 1;
        header->msg_control = NULL;
        header->msg_controllen = 0;
        header->msg_flags = 0;
        queued++;
        sent++;
    }
    if (queued > run_start)
        send_run(run_fd, self->messages + run_start, (unsigned int)(queued - run_start));
    return PyLong_FromSsize_t(sent);
}

static Py_ssize_t Fanout_len(Fanout *self) { return self->count; }

static PyMethodDef Fanout_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))Fanout_forward, METH_FASTCALL,
     "forward(marker, seq, timestamp, tail[, red[, vp8]]): rewrite, protect and send to every "
     "route."},
    {NULL}};

static PyMemberDef Fanout_members[] = {
    {"malformed", T_ULONGLONG, offsetof(Fanout, malformed), READONLY,
     "RED packets that did not parse (sent to nobody)."},
    {NULL}};

static PySequenceMethods Fanout_as_sequence = {.sq_length = (lenfunc)Fanout_len};

static PyTypeObject FanoutType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media._fastpath.Fanout",
    .tp_basicsize = sizeof(Fanout),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Fanout(routes): the running consumers of one producer.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Fanout_init,
    .tp_dealloc = (destructor)Fanout_dealloc,
    .tp_methods = Fanout_methods,
    .tp_members = Fanout_members,
    .tp_as_sequence = &Fanout_as_sequence,
};

/* --- module ---------------------------------------------------------------- */

static PyObject *fastpath_init(PyObject *module, PyObject *arg) {
    unsigned long long address = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    if (address == 0) {
        PyErr_SetString(PyExc_ValueError, "null srtp_protect");
        return NULL;
    }
    srtp_protect_ptr = (protect_fn)(uintptr_t)address;
    Py_RETURN_NONE;
}

static PyObject *fastpath_stats(PyObject *module, PyObject *unused) {
    return Py_BuildValue("{sKsKsK}", "send_errors", send_errors, "protect_errors", protect_errors,
                         "syscalls", syscalls);
}

static PyMethodDef module_methods[] = {
    {"init", fastpath_init, METH_O,
     "init(address): the srtp_protect function of the libsrtp pylibsrtp loaded."},
    {"stats", fastpath_stats, METH_NOARGS, "Datagrams refused, protect failures, syscalls."},
    {NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "media._fastpath", "Native forwarding fast path.", -1, module_methods};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&DestinationType) < 0 || PyType_Ready(&FanoutType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&DestinationType);
    Py_INCREF(&FanoutType);
    if (PyModule_AddObject(module, "Destination", (PyObject *)&DestinationType) < 0 ||
        PyModule_AddObject(module, "Fanout", (PyObject *)&FanoutType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
