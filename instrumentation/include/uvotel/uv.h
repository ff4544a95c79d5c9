/* uvotel libuv wrappers: libuv calls that raise async hooks and carry async context.
 *
 * Each wrapper has the signature of the libuv function it wraps, with uvotel_ in place of uv_,
 * and returns libuv's own result code unchanged (a NULL handle, on which libuv itself would crash,
 * gives UV_EINVAL; uvotel_close(NULL, ...) does nothing). When the libuv call fails, the callback
 * never runs and no hook event is raised (nothing is tracked). A wrapper never touches the `data`
 * field of a loop, handle or request: its state lives in a side table of the handle's loop keyed
 * by the handle's or request's address (O(1) from any thread that runs the loop), allocated from
 * a pool and freed when the handle is closed with uvotel_close or the request completes, and
 * what is left at uvotel_loop_close.
 *
 * Callbacks run in the async context that was current when they were registered, with the
 * resource's async id as the execution id (see uvotel/hooks.h and uvotel/context.h), with the
 * one exception the context rule below makes for code written without uvotel in mind.
 *
 * Wrapper state belongs to the handle's loop, not to a thread: a loop set up on one thread and
 * run on another works, and uvotel_async_send works from any thread.
 *
 * ---- The context rule: explicit and implicit registration ----------------------------------
 * A wrong parent is worse than none. One-shot registrations (uvotel_timer_start, every fs, DNS,
 * write, shutdown and connect request, uvotel_queue_work) and stream reads stand for one
 * logical task, so their callbacks run in the context of the registration, everywhere.
 * Persistent event sources are different: a program may run its own scheduler from one idle or
 * check handle (an asyncio-on-libuv runtime runs every ready task from one), or drain a queue
 * filled by many tasks from one async handle; running those callbacks in the context of
 * whichever task happened to start the handle would put every other task's work under the
 * wrong parent. So there are two entry points for them:
 *   uvotel_<name>        explicit: the program asked for uvotel's semantics; the callback runs
 *                        in the registration's context (Node's setImmediate: uvotel_check_start,
 *                        the seed traces), and an async callback in its first sender's.
 *   uvotel_implicit_<name>  implicit: the callback runs in the root (empty) context, still
 *                        inside its hook resource (init, before, after, destroy unchanged);
 *                        async sends carry no context.
 * uvotel/uv_redirect.h and libuvotel_preload.so map the plain libuv names of persistent
 * handles onto the implicit forms (uv_idle_start -> uvotel_implicit_idle_start,
 * uv_check_start -> uvotel_implicit_check_start, uv_async_init -> uvotel_implicit_async_init):
 * both stand for code that never chose uvotel's semantics, and they share one path. Every
 * other name maps onto its explicit wrapper. Wrappers of further persistent handles (prepare,
 * poll, signal, fs_event, fs_poll) follow the same scheme.
 *
 * Until anything is tracked (uvotel_tracking() == 0) the wrappers pass straight through.
 * A handle whose callback was registered through a wrapper must be closed with uvotel_close
 * (uvotel/uv_redirect.h maps uv_close onto it); closing it with uv_close leaks its state.
 *
 * Thread: loop, for every function here except uvotel_async_send (any thread). */
#ifndef UVOTEL_UV_H
#define UVOTEL_UV_H

#include <stddef.h>

#include <uv.h>

#include "uvotel/hooks.h"
#include "uvotel/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Timers: type "Timeout" --------------------------------------------------------------
 * A start is a new Timeout resource (as each setTimeout is in Node), triggered by the current
 * execution id, with one exception: a timer re-armed with uvotel_timer_start from inside its
 * own callback continues the same resource (as Node's timeout.refresh() does), now in the
 * context current at the re-arm. A one-shot timer's resource is destroyed after a callback that
 * did not re-arm it; a repeating timer's when it is stopped or closed; a running timer restarted
 * from elsewhere ends its resource and begins a new one. uvotel_timer_again keeps the resource
 * of a running repeating timer; on a stopped one it begins a new resource. */
int uvotel_timer_start(uv_timer_t *handle, uv_timer_cb cb, uint64_t timeout, uint64_t repeat);
int uvotel_timer_stop(uv_timer_t *handle);
int uvotel_timer_again(uv_timer_t *handle);

/* ---- Check handles: type "Immediate" (our setImmediate) ----------------------------------
 * A started check handle is one resource until stopped: before/after around every run of its
 * callback, destroy at stop or close. A check callback that stops its own handle behaves like
 * Node's setImmediate (init, before, after, destroy). Note that, as in raw libuv, an active check
 * handle does not keep the poll phase from blocking: pair it with an idle handle (as Node does)
 * when nothing else wakes the loop. */
int uvotel_check_start(uv_check_t *handle, uv_check_cb cb);
int uvotel_check_stop(uv_check_t *handle);
/* uvotel_check_start with the callback in the root context (the context rule above). */
int uvotel_implicit_check_start(uv_check_t *handle, uv_check_cb cb);

/* ---- Idle handles: type "IDLE" ------------------------------------------------------------
 * Same lifecycle as check handles. */
int uvotel_idle_start(uv_idle_t *handle, uv_idle_cb cb);
int uvotel_idle_stop(uv_idle_t *handle);
/* uvotel_idle_start with the callback in the root context (the context rule above). */
int uvotel_implicit_idle_start(uv_idle_t *handle, uv_idle_cb cb);

/* ---- Closing -----------------------------------------------------------------------------
 * Close any handle. A resource still live on it (a running timer, a started check or idle
 * handle, a stream, a server, an async handle, ...) is destroyed: with a close_cb, after it (as
 * Node's HandleWrap::OnClose, close_cb runs inside the handle's own resource: before, close_cb,
 * after, then destroy, so work it queues runs at the end of that callback scope); without one,
 * at once. close_cb runs in the context current at uvotel_close. A handle with no live resource
 * (a stopped timer) runs close_cb at the top level. The state is freed just before close_cb
 * runs. Write and shutdown requests still pending on a closing stream complete with
 * UV_ECANCELED inside their own resources before close_cb. Closing a handle inside its own
 * callback (a read, connection, async or timer callback) is fine: the destroy comes once, after
 * the callback. An async handle also leaves the send registry here. Handles never seen by a
 * wrapper pass straight to uv_close. */
void uvotel_close(uv_handle_t *handle, uv_close_cb close_cb);

/* ---- Loop close --------------------------------------------------------------------------
 * uvotel_loop_close(loop) (ignoring UVOTEL_ENOENT when the loop was never attached), then
 * uv_loop_close(loop), whose result it returns. It never runs the loop: while the program still
 * has anything in it (what uv_loop_close checks), it returns UV_EBUSY and changes nothing, as
 * uv_loop_close would. uv_redirect.h and the preload map uv_loop_close onto it, so a plain
 * program's uv_loop_close returns what it would without uvotel. */
int uvotel_uv_loop_close(uv_loop_t *loop);

/* ---- File system: type "FSREQCALLBACK" ---------------------------------------------------
 * Every asynchronous call (cb != NULL) is one resource: init (trigger = the current execution
 * id) when the call succeeds, before/after around the callback, which runs in the context of
 * the call, and destroy right after the callback. The request's state is freed before the
 * callback runs, so the callback may reuse the request at once (a chain of calls costs no
 * allocation). While a call other than uvotel_fs_utime, _futime and _lutime is in flight, the
 * request's private `atime` and `mtime` fields (which libuv on Unix uses only for those three)
 * hold uvotel's own words; before the callback runs they, and `cb`, are back to what raw libuv
 * would leave there. uv_cancel (uvotel_cancel) of a queued request: the callback runs with
 * UV_ECANCELED as usual, inside its resource, and the destroy follows once. A synchronous call
 * (cb == NULL) passes straight through and raises nothing. A failing call returns libuv's error
 * and raises nothing.
 * Node: fs.open then fs.close in its callback gives exactly this (tests/node/fs_open_close.js):
 * init 2 FSREQCALLBACK 1, before 2, init 3 FSREQCALLBACK 2, after 2, destroy 2, before 3, ...
 * uv_fs_mkstemp, futime, lutime, fchmod, fchown and lchown are wrapped as well. */
int uvotel_fs_close(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb);
int uvotel_fs_open(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags, int mode,
                   uv_fs_cb cb);
int uvotel_fs_read(uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
                   unsigned int nbufs, int64_t offset, uv_fs_cb cb);
int uvotel_fs_unlink(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);
int uvotel_fs_write(uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
                    unsigned int nbufs, int64_t offset, uv_fs_cb cb);
int uvotel_fs_copyfile(uv_loop_t *loop, uv_fs_t *req, const char *path, const char *new_path,
                       int flags, uv_fs_cb cb);
int uvotel_fs_mkdir(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode, uv_fs_cb cb);
int uvotel_fs_mkdtemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl, uv_fs_cb cb);
int uvotel_fs_mkstemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl, uv_fs_cb cb);
int uvotel_fs_rmdir(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);
int uvotel_fs_scandir(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags, uv_fs_cb cb);
int uvotel_fs_opendir(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);
int uvotel_fs_readdir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir, uv_fs_cb cb);
int uvotel_fs_closedir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir, uv_fs_cb cb);
int uvotel_fs_stat(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);
int uvotel_fs_fstat(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb);
int uvotel_fs_lstat(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);
int uvotel_fs_statfs(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);
int uvotel_fs_rename(uv_loop_t *loop, uv_fs_t *req, const char *path, const char *new_path,
                     uv_fs_cb cb);
int uvotel_fs_fsync(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb);
int uvotel_fs_fdatasync(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb);
int uvotel_fs_ftruncate(uv_loop_t *loop, uv_fs_t *req, uv_file file, int64_t offset, uv_fs_cb cb);
int uvotel_fs_sendfile(uv_loop_t *loop, uv_fs_t *req, uv_file out_fd, uv_file in_fd,
                       int64_t in_offset, size_t length, uv_fs_cb cb);
int uvotel_fs_access(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode, uv_fs_cb cb);
int uvotel_fs_chmod(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode, uv_fs_cb cb);
int uvotel_fs_fchmod(uv_loop_t *loop, uv_fs_t *req, uv_file file, int mode, uv_fs_cb cb);
int uvotel_fs_utime(uv_loop_t *loop, uv_fs_t *req, const char *path, double atime, double mtime,
                    uv_fs_cb cb);
int uvotel_fs_futime(uv_loop_t *loop, uv_fs_t *req, uv_file file, double atime, double mtime,
                     uv_fs_cb cb);
int uvotel_fs_lutime(uv_loop_t *loop, uv_fs_t *req, const char *path, double atime, double mtime,
                     uv_fs_cb cb);
int uvotel_fs_link(uv_loop_t *loop, uv_fs_t *req, const char *path, const char *new_path,
                   uv_fs_cb cb);
int uvotel_fs_symlink(uv_loop_t *loop, uv_fs_t *req, const char *path, const char *new_path,
                      int flags, uv_fs_cb cb);
int uvotel_fs_readlink(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);
int uvotel_fs_realpath(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);
int uvotel_fs_chown(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_uid_t uid, uv_gid_t gid,
                    uv_fs_cb cb);
int uvotel_fs_fchown(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_uid_t uid, uv_gid_t gid,
                     uv_fs_cb cb);
int uvotel_fs_lchown(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_uid_t uid, uv_gid_t gid,
                     uv_fs_cb cb);

/* uv_fs_req_cleanup. A tracked request's state is freed when its callback runs, so this only
 * passes through; it exists so that uv_redirect.h can map the whole uv_fs_* family. */
void uvotel_fs_req_cleanup(uv_fs_t *req);

/* ---- DNS: "GETADDRINFOREQWRAP", "GETNAMEINFOREQWRAP" -------------------------------------
 * Same lifecycle as file system requests; synchronous mode (cb == NULL) passes through.
 * Node differs by nature: its dns module first creates a "DNSCHANNEL" (the c-ares channel, one
 * per resolver) that libuv does not have; dns.lookup itself matches: init GETADDRINFOREQWRAP
 * (trigger = current), before, callback, after, destroy (tests/node/dns_lookup.js). */
int uvotel_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb getaddrinfo_cb,
                       const char *node, const char *service, const struct addrinfo *hints);
int uvotel_getnameinfo(uv_loop_t *loop, uv_getnameinfo_t *req, uv_getnameinfo_cb getnameinfo_cb,
                       const struct sockaddr *addr, int flags);

/* ---- TCP and streams ---------------------------------------------------------------------
 * A stream handle becomes one resource when a wrapper first sees it and stays one until
 * uvotel_close destroys it:
 *   uvotel_listen      "TCPSERVERWRAP" ("PIPESERVERWRAP" for pipes), trigger = current; the
 *                      connection callback runs inside it, in the context of the listen call.
 *   uvotel_accept      the accepted handle becomes a "TCPWRAP" ("PIPEWRAP") whose trigger is
 *                      the server's id. With automatic spans its "tcp accept" span is not
 *                      exported when a protocol detector claimed and followed the connection
 *                      and no span was started under it (uvotel/uv_spans.h, "net").
 *   uvotel_tcp_connect the handle becomes a "TCPWRAP" (trigger = current), then the request a
 *                      "TCPCONNECTWRAP" triggered by the handle (as Node does).
 *   uvotel_read_start  a handle not seen before becomes a "TCPWRAP"/"PIPEWRAP"/"TTYWRAP"; the
 *                      read callback runs inside the handle's resource, in the context current
 *                      at uvotel_read_start (each call re-captures it). alloc_cb is not wrapped:
 *                      it runs as libuv calls it, outside the resource.
 *   uvotel_write(2)    "WRITEWRAP", uvotel_shutdown "SHUTDOWNWRAP": requests triggered by the
 *                      stream's resource (the current execution id when the stream is not
 *                      tracked), destroyed after their callback; the callback (may be NULL) runs
 *                      in the context of the call. Requests still pending when the stream is
 *                      closed complete with UV_ECANCELED and are destroyed the same way.
 *   uvotel_try_write(2) synchronous: passes through and raises nothing (Node raises nothing for
 *                      a write that completes synchronously either).
 *   uvotel_tcp_init    uv_tcp_init; it also drops state left at the same address by a handle
 *                      that was closed with raw uv_close. Nothing is raised at init: libuv
 *                      cannot tell a future server from a future connection yet.
 * So a value entered in the connection callback, before uvotel_read_start and uvotel_write on
 * the accepted handle, is seen by that connection's callbacks and by no other (unlike Node,
 * nodejs/node#37866, where a socket's callbacks run in the context of the server).
 * Differences from Node by nature (tests/node/net_echo.js): Node adds TickObjects (its
 * process.nextTick queue) and a DNSCHANNEL around the same structure; Node raises the accepted
 * TCPWRAP's init before the server's `before`, because it creates the socket before calling
 * into JavaScript, while here uv_accept runs inside the connection callback, so the init comes
 * between the server's before and after; Node writes small buffers synchronously (no
 * WRITEWRAP), while uv_write always completes asynchronously (a WRITEWRAP per call). As in
 * Node, a socket's close callback runs inside the socket's resource (see uvotel_close). */
int uvotel_tcp_init(uv_loop_t *loop, uv_tcp_t *handle);
int uvotel_tcp_connect(uv_connect_t *req, uv_tcp_t *handle, const struct sockaddr *addr,
                       uv_connect_cb cb);
int uvotel_listen(uv_stream_t *stream, int backlog, uv_connection_cb cb);
int uvotel_accept(uv_stream_t *server, uv_stream_t *client);
int uvotel_read_start(uv_stream_t *stream, uv_alloc_cb alloc_cb, uv_read_cb read_cb);
/* uv_read_stop. The handle's resource lives on until uvotel_close. */
int uvotel_read_stop(uv_stream_t *stream);
int uvotel_write(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                 uv_write_cb cb);
int uvotel_write2(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                  uv_stream_t *send_handle, uv_write_cb cb);
int uvotel_try_write(uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs);
int uvotel_try_write2(uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                      uv_stream_t *send_handle);
int uvotel_shutdown(uv_shutdown_t *req, uv_stream_t *handle, uv_shutdown_cb cb);

/* ---- Thread pool: type "WORK" ------------------------------------------------------------
 * One resource per uvotel_queue_work: init (trigger = current) at submission, destroy after
 * after_work_cb. work_cb runs on a pool thread in the submitter's context (uvotel_var_get sees
 * the values current at uvotel_queue_work; the pool thread's own context is restored when it
 * returns) and raises no hook events there: pool threads run at their own top level (execution
 * id 1). after_work_cb (may be NULL) runs on the loop inside the resource, in the same context.
 * Values travelling to the pool are read there, not retained; a variable's value ops run on the
 * loop thread only, unless work_cb itself captures.
 * libuv queues a request inside uvotel's state, not the user's: the user's request gets loop,
 * type, work_cb and after_work_cb set as uv_queue_work would, and must be cancelled with
 * uvotel_cancel (uv_redirect.h maps uv_cancel). Queueing a request that is still queued returns
 * UV_EBUSY. While the request is queued, uvotel keeps a tagged pointer in its libuv-private
 * work record (`work_req`, what uv_queue_work itself would fill); data and the `reserved`
 * words are the program's and are never written. */
int uvotel_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                      uv_after_work_cb after_work_cb);

/* uv_cancel for any request. A wrapped work request that was still queued completes with
 * UV_ECANCELED: after_work_cb runs inside its resource, then exactly one destroy; fs and DNS
 * requests behave likewise through their own callbacks. Returns libuv's result. */
int uvotel_cancel(uv_req_t *req);

/* ---- Cross-thread: type "ASYNC" ----------------------------------------------------------
 * uvotel_async_init: one resource (trigger = current) until uvotel_close; before/after around
 * each run of the callback. uvotel_async_send (Thread: any) hands the sender's context to the
 * loop: libuv coalesces sends, and the callback runs in the context of the FIRST send since the
 * previous callback (later coalesced senders' contexts are dropped: one callback, one context,
 * and the first send is the one that caused the wake-up). A callback with no send context to
 * take (a send that raced with the previous callback, more than 1024 async handles tracked in
 * the process) runs in the context current at uvotel_async_init. A send costs one lock-free
 * registry lookup plus, when it is the first since the last callback and the context is not
 * empty, one copy of the sender's context. */
int uvotel_async_init(uv_loop_t *loop, uv_async_t *async, uv_async_cb async_cb);
int uvotel_async_send(uv_async_t *async);
/* uvotel_async_init whose callback runs in the root context: uvotel_async_send on it captures
 * nothing (the context rule above). */
int uvotel_implicit_async_init(uv_loop_t *loop, uv_async_t *async, uv_async_cb async_cb);

/* ---- Prepare handles: type "PREPARE" (Node has none) -------------------------------------
 * uvotel_prepare_start / uvotel_prepare_stop: the same lifecycle as check and idle handles.
 *
 * ---- More TCP ------------------------------------------------------------------------------
 * uvotel_tcp_init_ex   as uvotel_tcp_init (drops stale state at the address).
 * uvotel_tcp_open      uv_tcp_open (the handle becomes a resource when a wrapper first uses
 *                      it, as after uvotel_tcp_init). With the http or dns category on, a
 *                      connected socket is offered to the protocol detectors both ways: its
 *                      first read makes it a served stream (as an accepted one), its first
 *                      write a client stream (as a connected one); see uvotel/uv_protocols.h.
 * uvotel_tcp_close_reset  uvotel_close with an RST: the handle's resource is destroyed, its
 *                      state freed and close_cb run exactly as with uvotel_close. When libuv
 *                      refuses (a handle that is shutting down: UV_EINVAL) nothing changes.
 *
 * ---- Pipes: "PIPEWRAP", "PIPECONNECTWRAP", "PIPESERVERWRAP" ------------------------------
 * uvotel_pipe_init     uv_pipe_init, dropping stale state at the address.
 * uvotel_pipe_connect  the handle becomes a "PIPEWRAP" (trigger = current), the request a
 *                      "PIPECONNECTWRAP" triggered by it; the callback runs inside it in the
 *                      context of the call, then destroy. libuv reports every connect error
 *                      through the callback, so the resources exist even for a failing connect.
 * uvotel_pipe_open     uv_pipe_open (a resource when a wrapper first uses it). A connected
 *                      socket (a socketpair end, one inherited or accepted elsewhere) is offered
 *                      to the protocol detectors both ways, as with uvotel_tcp_open; a pipe(2) or
 *                      FIFO end, or a listening socket, is not (it has no peer).
 * uvotel_listen / uvotel_accept / uvotel_read_start / uvotel_write(2) / uvotel_shutdown work on
 * pipes as on TCP (types above); Node's trace of the same program: tests/node/net_unix.js.
 *
 * ---- TTY: "TTYWRAP" ------------------------------------------------------------------------
 * uvotel_tty_init      uv_tty_init, dropping stale state; reads and writes through the stream
 *                      wrappers.
 *
 * ---- UDP: "UDPWRAP", "UDPSENDWRAP" ---------------------------------------------------------
 * The handle is one "UDPWRAP" (trigger = current) from the first uvotel_udp_recv_start or
 * uvotel_udp_send until uvotel_close. uvotel_udp_recv_start: the receive callback runs inside
 * it, in the context of the latest uvotel_udp_recv_start (alloc_cb is not wrapped, and
 * neither is the "nothing more to read" / buffer-return call with nread 0 and addr NULL, for
 * which Node makes no callback: both run outside the resource);
 * uvotel_udp_recv_stop passes through (the resource lives on). uvotel_udp_send: a
 * "UDPSENDWRAP" request triggered by the handle, its callback (may be NULL) run inside it in
 * the context of the send, then destroy. uvotel_udp_try_send and uvotel_udp_connect are
 * synchronous and pass through; uvotel_udp_init(_ex) drop stale state. Node differs by nature
 * (tests/node/dgram.js): it creates the UDPWRAP at dgram.createSocket, before any send, and
 * sends small datagrams synchronously (no UDPSENDWRAP, its callback from a TickObject), while
 * uv_udp_send always completes through its callback (a UDPSENDWRAP per call).
 *
 * ---- Processes: "PROCESSWRAP" ------------------------------------------------------------
 * uvotel_spawn: one resource (trigger = current) from a successful spawn until uvotel_close;
 * options->exit_cb (may be NULL) runs inside it, in the context of the spawn. The caller's
 * options and options->env are never modified. Under a current span (or the automatic
 * "process" span, uvotel/uv_spans.h) the child's environment is a copy of options->env (NULL:
 * this process's environ) with TRACEPARENT, TRACESTATE and BAGGAGE set to the current context
 * (replacing any there); the child's uvotel_tracer_provider_from_env makes that the remote
 * parent of its root spans. UVOTEL_PROPAGATE_ENV=false turns the variables off (a value other
 * than true/false: a warning, and on).
 * uvotel_process_kill passes through.
 *
 * ---- Signals: "SIGNALWRAP" ---------------------------------------------------------------
 * uvotel_signal_start(_oneshot): one resource from the start until uvotel_signal_stop or
 * uvotel_close (a start on a started handle ends the earlier resource and begins a new one);
 * before/after around each callback, in the context of the start. A one-shot handle's resource
 * is destroyed after its callback unless the callback started it again.
 *
 * ---- Poll handles: "POLLWRAP" ------------------------------------------------------------
 * uvotel_poll_init(_socket) drop stale state. The handle is one resource from its first
 * uvotel_poll_start until uvotel_close (libraries start and stop their sockets' polls
 * constantly: uvotel_poll_stop passes through and the resource lives on); each start
 * re-captures the context its callback runs in, unless uvotel_poll_adopt fixed it.
 *
 * The implicit forms (the context rule above; what uv_redirect.h and the preload map the libuv
 * names onto): uvotel_implicit_prepare_start, uvotel_implicit_signal_start(_oneshot),
 * uvotel_implicit_poll_start, uvotel_implicit_fs_event_start, uvotel_implicit_fs_poll_start
 * take the same arguments and run the callback in the root context; hooks are the same. */

/* Give a poll handle a fixed context: from now on its callbacks run in snap (NULL: the context
 * current at this call), whatever context later uvotel_poll_start calls are made in. This is
 * the one call a foreign library's socket needs (libcurl multi, c-ares, hiredis, libpq start
 * and stop their polls from their own callbacks, where the current context belongs to
 * whichever transfer ran last): call it whenever the socket starts serving a task, e.g. in
 * libcurl's socket callback with the context captured when the transfer was added. snap is
 * read during the call only (not retained). Each call begins a new "POLLWRAP" resource (the
 * previous one, if any, is destroyed): the socket starts serving a new task. This also holds
 * for a handle started through the implicit path (root context otherwise).
 * NULL or non-poll handle: UV_EINVAL; out of memory: UV_ENOMEM; while nothing is tracked
 * (uvotel_tracking() == 0): 0 and nothing happens. Thread: loop. */
int uvotel_poll_adopt(uv_poll_t *handle, uvotel_snapshot_t *snap);

/* ---- File system events: "FSEVENTWRAP"; polling: "STATWATCHER" ---------------------------
 * uvotel_fs_event_start / uvotel_fs_poll_start: one resource from the start until the stop or
 * uvotel_close, before/after around each callback, in the context of the start (as signals).
 * libuv's own timer and stat requests inside fs_poll are not seen.
 *
 * ---- Random bytes: "RANDOMBYTESREQUEST" --------------------------------------------------
 * uvotel_random: a request like the fs ones (init at the call, before/after around the
 * callback, destroy after it); synchronous mode (cb == NULL) passes straight through.
 *
 * ---- Deliberately not wrapped (callback-taking libuv functions; tests/unit/
 * test_uv_coverage.c keeps this list complete against the installed uv.h) ------------------
 *   uv_walk               the callback runs synchronously inside the call, in its context.
 *   uv_once               runs synchronously, at most once per process, in the caller's context.
 *   uv_thread_create(_ex) the entry runs at the top level of a new thread (execution id 1), as
 *                         pool threads do; context does not cross into threads the program
 *                         starts itself.
 *   uv_replace_allocator  allocator functions, not asynchronous callbacks.
 *   alloc_cb arguments of uv_read_start / uv_udp_recv_start are passed as given (they run
 *   outside the handle's resource, as libuv calls them). */

/* ---- Every wrapper, from the one list ---------------------------------------------------
 * uvotel/uv_list.h names every wrapped libuv function once; these declarations come from it,
 * so a prototype above that differs from the list does not compile. The groups below document
 * the wrappers that have no prototype of their own above. */
#include "uvotel/uv_list.h"
#define UVOTEL__UV_DECLARE(name, wrap, params, args) int wrap params;
#define UVOTEL__UV_DECLARE_V(name, wrap, params, args) void wrap params;
UVOTEL_UV_LIST(UVOTEL__UV_DECLARE, UVOTEL__UV_DECLARE_V)
UVOTEL_UV_EXPLICIT_LIST(UVOTEL__UV_DECLARE)
#undef UVOTEL__UV_DECLARE
#undef UVOTEL__UV_DECLARE_V

/* ---- Introspection -----------------------------------------------------------------------
 * Number of handles and requests whose state the side tables of all attached loops hold (work
 * requests in flight included, which take no slot), and the tables' capacity in slots (each
 * grows and shrinks with its count). Thread: any. */
size_t uvotel_uv_tracked(void);
size_t uvotel_uv_table_capacity(void);

/* Kept for programs written against earlier versions: wrapper state now belongs to loops and
 * uvotel_loop_close frees it, so there is nothing per thread to free. Thread: any. */
void uvotel_uv_thread_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif
