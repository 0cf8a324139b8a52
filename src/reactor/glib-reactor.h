/* braid — the real reactor, on a GMainContext. */
#pragma once

#include "reactor.h"

G_BEGIN_DECLS

#define BRAID_TYPE_GLIB_REACTOR (braid_glib_reactor_get_type ())
G_DECLARE_FINAL_TYPE (BraidGlibReactor, braid_glib_reactor,
                      BRAID, GLIB_REACTOR, GObject)

/* @context: (nullable): the context to attach sources to; NULL means the
 * thread-default context at construction time. */
BraidGlibReactor *braid_glib_reactor_new (GMainContext *context);
GMainContext *braid_glib_reactor_get_context (BraidGlibReactor *self);

/* For `systemd:` endpoints: the environment to read LISTEN_PID, LISTEN_FDS
 * and LISTEN_FDNAMES from (a g_get_environ()-style array), or NULL for the
 * process environment.  The variables are unset from the process environment
 * after they were first read, as sd_listen_fds(1) does. */
void braid_glib_reactor_set_listen_environment (BraidGlibReactor *self,
                                                const gchar * const *envp);

G_END_DECLS
