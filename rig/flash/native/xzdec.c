/*
 * xz decompression in the flasher's process, with liblzma's multithreaded decoder (liblzma >= 5.4).
 *
 * Why not the xz tool through a pipe: a 2 GiB image with 20% data carries 1.6 GiB of zero runs, and
 * every byte of them is copied into the pipe and out again, on the same cores that decompress it
 * (`xz -dc | cat` is 30% slower than `xz -dc > /dev/null` on 2 cores). Here liblzma writes straight
 * into the caller's buffer, and lzma_code runs on the libuv threadpool, so the event loop hashes and
 * writes the previous buffer meanwhile.
 *
 * API (one call in flight per decoder; the caller keeps that promise):
 *   create(threads, memlimitThreading) -> decoder
 *   code(decoder, input, output, finish, callback(ret, consumed, produced))
 *   end(decoder)
 */
#define NAPI_VERSION 8
#include <lzma.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	lzma_stream strm;
	int busy;
	int ended;
	int end_requested;
} Decoder;

typedef struct {
	Decoder *d;
	const uint8_t *in;
	size_t in_len;
	uint8_t *out;
	size_t out_len;
	lzma_action action;
	lzma_ret ret;
	size_t consumed, produced;
	napi_ref dec_ref, in_ref, out_ref, cb_ref;
	napi_async_work work;
} Job;

#define CHECK(env, call)                                                                       \
	do {                                                                                   \
		if ((call) != napi_ok) {                                                       \
			napi_throw_error((env), NULL, "xzdec: " #call " failed");              \
			return NULL;                                                           \
		}                                                                              \
	} while (0)

static void decoder_free(Decoder *d) {
	if (!d->ended) lzma_end(&d->strm);
	d->ended = 1;
}

static void finalize_decoder(napi_env env, void *data, void *hint) {
	(void)env;
	(void)hint;
	Decoder *d = data;
	decoder_free(d);
	free(d);
}

static Decoder *get_decoder(napi_env env, napi_value v) {
	void *p = NULL;
	if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
		napi_throw_type_error(env, NULL, "xzdec: not a decoder");
		return NULL;
	}
	return p;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
	bool is_buf = false;
	napi_is_buffer(env, v, &is_buf);
	if (is_buf) return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
	bool is_ta = false;
	napi_is_typedarray(env, v, &is_ta);
	if (!is_ta) return 0;
	napi_typedarray_type type;
	size_t length, offset;
	napi_value ab;
	void *p;
	if (napi_get_typedarray_info(env, v, &type, &length, &p, &ab, &offset) != napi_ok) return 0;
	if (type != napi_uint8_array) return 0;
	*data = p;
	*len = length;
	return 1;
}

static napi_value create(napi_env env, napi_callback_info info) {
	size_t argc = 2;
	napi_value argv[2];
	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	uint32_t threads = 1;
	double memlimit = 0;
	if (argc < 2 || napi_get_value_uint32(env, argv[0], &threads) != napi_ok ||
	    napi_get_value_double(env, argv[1], &memlimit) != napi_ok) {
		napi_throw_type_error(env, NULL, "xzdec: create(threads, memlimitThreading)");
		return NULL;
	}
	Decoder *d = calloc(1, sizeof *d);
	if (!d) {
		napi_throw_error(env, NULL, "xzdec: out of memory");
		return NULL;
	}
	lzma_stream init = LZMA_STREAM_INIT;
	d->strm = init;
	lzma_mt mt;
	memset(&mt, 0, sizeof mt);
	/* Concatenated streams are valid .xz files (`cat a.xz b.xz`), as xz -d reads them. */
	mt.flags = LZMA_CONCATENATED;
	mt.threads = threads ? threads : 1;
	mt.timeout = 0;
	mt.memlimit_threading = memlimit > 0 ? (uint64_t)memlimit : UINT64_MAX;
	/* Past memlimit_threading liblzma decodes in one thread; it never refuses an image for memory. */
	mt.memlimit_stop = UINT64_MAX;
	lzma_ret r = lzma_stream_decoder_mt(&d->strm, &mt);
	if (r != LZMA_OK) {
		free(d);
		napi_throw_error(env, NULL, "xzdec: lzma_stream_decoder_mt failed");
		return NULL;
	}
	napi_value ext;
	if (napi_create_external(env, d, finalize_decoder, NULL, &ext) != napi_ok) {
		decoder_free(d);
		free(d);
		napi_throw_error(env, NULL, "xzdec: napi_create_external failed");
		return NULL;
	}
	return ext;
}

static void execute(napi_env env, void *data) {
	(void)env;
	Job *j = data;
	lzma_stream *s = &j->d->strm;
	s->next_in = j->in;
	s->avail_in = j->in_len;
	s->next_out = j->out;
	s->avail_out = j->out_len;
	/* Fill the output, or use up the input: one round trip per buffer, not per liblzma return. */
	for (;;) {
		j->ret = lzma_code(s, j->action);
		if (j->ret != LZMA_OK) break;
		if (s->avail_out == 0) break;
		if (s->avail_in == 0 && j->action == LZMA_RUN) break;
	}
	j->consumed = j->in_len - s->avail_in;
	j->produced = j->out_len - s->avail_out;
	s->next_in = NULL;
	s->next_out = NULL;
}

static void complete(napi_env env, napi_status status, void *data) {
	Job *j = data;
	j->d->busy = 0;
	if (j->d->end_requested) decoder_free(j->d);
	napi_value cb, global, argv[3], ignored;
	napi_get_reference_value(env, j->cb_ref, &cb);
	napi_get_global(env, &global);
	napi_create_int32(env, status == napi_ok ? (int32_t)j->ret : -1, &argv[0]);
	napi_create_double(env, (double)j->consumed, &argv[1]);
	napi_create_double(env, (double)j->produced, &argv[2]);
	napi_delete_reference(env, j->dec_ref);
	napi_delete_reference(env, j->in_ref);
	napi_delete_reference(env, j->out_ref);
	napi_delete_reference(env, j->cb_ref);
	napi_delete_async_work(env, j->work);
	free(j);
	napi_call_function(env, global, cb, 3, argv, &ignored);
}

static napi_value code(napi_env env, napi_callback_info info) {
	size_t argc = 5;
	napi_value argv[5];
	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 5) {
		napi_throw_type_error(env, NULL, "xzdec: code(decoder, input, output, finish, callback)");
		return NULL;
	}
	Decoder *d = get_decoder(env, argv[0]);
	if (!d) return NULL;
	if (d->busy || d->ended) {
		napi_throw_error(env, NULL, d->busy ? "xzdec: a call is already in flight" : "xzdec: decoder ended");
		return NULL;
	}
	uint8_t *in, *out;
	size_t in_len, out_len;
	if (!get_bytes(env, argv[1], &in, &in_len) || !get_bytes(env, argv[2], &out, &out_len)) {
		napi_throw_type_error(env, NULL, "xzdec: input and output are Buffers or Uint8Arrays");
		return NULL;
	}
	bool finish = false;
	napi_get_value_bool(env, argv[3], &finish);
	Job *j = calloc(1, sizeof *j);
	if (!j) {
		napi_throw_error(env, NULL, "xzdec: out of memory");
		return NULL;
	}
	j->d = d;
	j->in = in;
	j->in_len = in_len;
	j->out = out;
	j->out_len = out_len;
	j->action = finish ? LZMA_FINISH : LZMA_RUN;
	/* The decoder, the buffers and the callback live until the job completes. */
	napi_create_reference(env, argv[0], 1, &j->dec_ref);
	napi_create_reference(env, argv[1], 1, &j->in_ref);
	napi_create_reference(env, argv[2], 1, &j->out_ref);
	napi_create_reference(env, argv[4], 1, &j->cb_ref);
	napi_value name;
	napi_create_string_utf8(env, "xzdec", NAPI_AUTO_LENGTH, &name);
	/* No resource object of ours: async_hooks (AsyncLocalStorage) tags it, and an external is not extensible. */
	if (napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok ||
	    napi_queue_async_work(env, j->work) != napi_ok) {
		napi_throw_error(env, NULL, "xzdec: cannot queue the work");
		return NULL;
	}
	d->busy = 1;
	return NULL;
}

static napi_value end(napi_env env, napi_callback_info info) {
	size_t argc = 1;
	napi_value argv[1];
	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	Decoder *d = get_decoder(env, argv[0]);
	if (!d) return NULL;
	/* Never under a running lzma_code: a job in flight ends it when it completes. */
	if (d->busy) d->end_requested = 1;
	else decoder_free(d);
	return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
	napi_property_descriptor props[] = {
	    {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
	    {"code", NULL, code, NULL, NULL, NULL, napi_default, NULL},
	    {"end", NULL, end, NULL, NULL, NULL, napi_default, NULL},
	};
	napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
	napi_value v;
	napi_create_uint32(env, lzma_version_number(), &v);
	napi_set_named_property(env, exports, "lzmaVersion", v);
	return exports;
}

NAPI_MODULE(xzdec, init)
