/* braid — meson install into a temporary DESTDIR, then check the installed
 * tree and build a program against it with pkg-config. */
#include "test-support.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  gchar *destdir;
  gchar *prefix;   /* the configured prefix, inside destdir */
} Fixture;

static gchar *
run (const gchar * const *argv, const gchar * const *env_extra, gint *status)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                      G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  gchar *out = NULL;

  for (; env_extra != NULL && env_extra[0] != NULL; env_extra += 2)
    g_subprocess_launcher_setenv (launcher, env_extra[0], env_extra[1], TRUE);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  *status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  return out;
}

static gchar *
find_file (const gchar *root, const gchar *name)
{
  g_autoptr(GDir) dir = g_dir_open (root, 0, NULL);
  const gchar *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (root, entry, NULL);
      gchar *found;

      if (g_str_equal (entry, name))
        return g_steal_pointer (&path);
      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK) &&
          (found = find_file (path, name)) != NULL)
        return found;
    }
  return NULL;
}

static void
rm_rf (const gchar *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *child = g_build_filename (path, entry, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *build = braid_test_build_path (".");
  const gchar *argv[] = { "meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", NULL, NULL };
  g_autofree gchar *out = NULL;
  gint status;

  f->destdir = g_dir_make_tmp ("braid-install-XXXXXX", &error);
  g_assert_no_error (error);
  argv[7] = f->destdir;
  out = run (argv, NULL, &status);
  if (status != 0)
    g_error ("meson install failed (%d):\n%s", status, out);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  rm_rf (f->destdir);
  g_free (f->destdir);
  g_free (f->prefix);
}

/* Every file under @dir, as paths relative to @root, into @out. */
static void
list_files (const gchar *root, const gchar *dir, GPtrArray *out)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *entry;

  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (dir, entry, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        list_files (root, path, out);
      else
        g_ptr_array_add (out, g_strdup (path + strlen (root) + 1));
    }
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* The installed headers are exactly tests/install/installed-headers.txt:
 * adding a public header is a deliberate change to that list. */
static void
check_installed_headers (Fixture *f)
{
  g_autofree gchar *list_path = g_test_build_filename (G_TEST_DIST, "install", "installed-headers.txt", NULL);
  g_autofree gchar *list = NULL;
  g_autofree gchar *marker = find_file (f->destdir, "braid-testing.pc");
  g_autofree gchar *include_root = NULL;
  g_autoptr(GPtrArray) installed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GString) actual = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree gchar *braid_h = find_file (f->destdir, "braid.h");

  g_file_get_contents (list_path, &list, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (list, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0' && lines[i][0] != '#')
      g_string_append_printf (expected, "%s\n", lines[i]);

  /* ${includedir}/braid-0 holds braid.h: its parent is the include root */
  g_assert_nonnull (braid_h);
  include_root = g_path_get_dirname (braid_h);
  if (g_str_has_suffix (include_root, "/braid"))
    {
      gchar *parent = g_path_get_dirname (include_root);
      g_free (include_root);
      include_root = parent;
    }
  {
    g_autofree gchar *top = g_path_get_dirname (include_root);
    list_files (top, include_root, installed);
  }
  g_ptr_array_sort (installed, compare_strings);
  for (guint i = 0; i < installed->len; i++)
    g_string_append_printf (actual, "%s\n", (const gchar *) installed->pdata[i]);
  g_assert_cmpstr (actual->str, ==, expected->str);

  /* No installed header uses braid's build-time macros or includes a
   * header that was not installed beside it. */
  for (guint i = 0; i < installed->len; i++)
    {
      g_autofree gchar *top = g_path_get_dirname (include_root);
      g_autofree gchar *path = g_build_filename (top, installed->pdata[i], NULL);
      g_autofree gchar *dir = g_path_get_dirname (path);
      g_autofree gchar *text = NULL;
      g_auto(GStrv) hlines = NULL;

      g_file_get_contents (path, &text, NULL, &error);
      g_assert_no_error (error);
      if (strstr (text, "PACKAGE_VERSION") != NULL)
        g_error ("%s uses PACKAGE_VERSION, which consumers do not have", path);
      hlines = g_strsplit (text, "\n", -1);
      for (guint l = 0; hlines[l] != NULL; l++)
        {
          const gchar *q;
          g_autofree gchar *name = NULL;
          g_autofree gchar *sibling = NULL;

          if (!g_str_has_prefix (hlines[l], "#include \""))
            continue;
          q = hlines[l] + strlen ("#include \"");
          name = g_strndup (q, strcspn (q, "\""));
          sibling = g_build_filename (dir, name, NULL);
          if (!g_file_test (sibling, G_FILE_TEST_EXISTS))
            g_error ("%s includes \"%s\", which is not installed beside it", path, name);
        }
    }
}

static void
test_tree (Fixture *f, gconstpointer data)
{
  const gchar *expected[] = {
    "libbraid.so.0", "libbraid-testing.so.0", "braid.pc", "braid-testing.pc",
    "braid-capture", "braid-replay", "braid-fixture", "braid-sim",
    "braid-capture.1", "braid-replay.1", "braid-fixture.1", "braid-sim.1",
    "fixtures.md", "memcached.md",
    "braid-memcached", "braid-memcached.1", "braid-memcached.conf",
    "braid-memcached.service", "braid-memcached.socket",
    "braid-mc", "braid-mc.1", "client.md",
    "braid-proxy", "braid-proxy.1", "braid-proxy.conf", "braid-proxy.service", "braid-proxy.socket",
    "braid-timing", "braid-timing.1", "proxy.md",
  };

  g_test_summary ("meson install puts the libraries, pkg-config files, programs, man pages and docs in "
                  "place, and exactly the listed public headers, which need nothing but each other");
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autofree gchar *path = find_file (f->destdir, expected[i]);

      if (path == NULL)
        g_error ("“%s” was not installed under %s", expected[i], f->destdir);
    }
  check_installed_headers (f);
}

/* The installed .pc files name the real prefix; copies whose prefix points
 * into DESTDIR let pkg-config resolve braid there and GLib in /usr. */
static gchar *
relocate_pc_files (Fixture *f, const gchar *pcdir)
{
  const gchar *names[] = { "braid.pc", "braid-testing.pc" };
  gchar *out = g_build_filename (f->destdir, "relocated-pkgconfig", NULL);

  g_mkdir_with_parents (out, 0755);
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree gchar *in = g_build_filename (pcdir, names[i], NULL);
      g_autofree gchar *dest = g_build_filename (out, names[i], NULL);
      g_autofree gchar *text = NULL;
      g_auto(GStrv) lines = NULL;
      g_autoptr(GString) rewritten = g_string_new (NULL);
      g_autoptr(GError) error = NULL;

      g_file_get_contents (in, &text, NULL, &error);
      g_assert_no_error (error);
      lines = g_strsplit (text, "\n", -1);
      for (guint l = 0; lines[l] != NULL; l++)
        {
          if (g_str_has_prefix (lines[l], "prefix="))
            g_string_append_printf (rewritten, "prefix=%s%s\n", f->destdir, lines[l] + strlen ("prefix="));
          else
            g_string_append_printf (rewritten, "%s\n", lines[l]);
        }
      g_file_set_contents (dest, rewritten->str, -1, &error);
      g_assert_no_error (error);
    }
  return out;
}

static void
test_pkg_config_consumer (Fixture *f, gconstpointer data)
{
  g_autofree gchar *pc = find_file (f->destdir, "braid.pc");
  g_autofree gchar *pcdir = g_path_get_dirname (pc);
  g_autofree gchar *lib = find_file (f->destdir, "libbraid.so.0");
  g_autofree gchar *libdir = g_path_get_dirname (lib);
  g_autofree gchar *source = g_test_build_filename (G_TEST_DIST, "install", "consumer.c", NULL);
  g_autofree gchar *program = g_build_filename (f->destdir, "consumer", NULL);
  g_autofree gchar *flags = NULL;
  g_autofree gchar *out = NULL;
  g_autofree gchar *cmd = NULL;
  g_autofree gchar *relocated = relocate_pc_files (f, pcdir);
  const gchar *env[] = { "PKG_CONFIG_PATH", relocated, NULL };
  const gchar *run_env[] = { "LD_LIBRARY_PATH", libdir, NULL };
  gint status;

  g_test_summary ("A program outside the tree compiles and links against the installed libbraid and "
                  "libbraid-testing through pkg-config, and runs");
  {
    const gchar *argv[] = { "pkg-config", "--cflags", "--libs", "braid-testing", NULL };

    flags = run (argv, env, &status);
    g_assert_cmpint (status, ==, 0);
  }
  /* A sanitized libbraid needs a sanitized program. */
  cmd = g_strdup_printf ("cc -std=gnu11 -Wall -Werror %s%s -o '%s' '%s' %s",
                         g_str_equal (BRAID_SANITIZE, "none") ? "" : "-fsanitize=",
                         g_str_equal (BRAID_SANITIZE, "none") ? "" : BRAID_SANITIZE,
                         program, source, g_strstrip (flags));
  {
    const gchar *argv[] = { "sh", "-c", cmd, NULL };

    out = run (argv, env, &status);
    if (status != 0)
      g_error ("compiling against the installed braid failed:\n%s\n%s", cmd, out);
  }
  g_clear_pointer (&out, g_free);
  {
    const gchar *argv[] = { program, NULL };

    out = run (argv, run_env, &status);
    g_test_message ("%s", out);
    g_assert_cmpint (status, ==, 0);
    g_assert_nonnull (strstr (out, "fake now 1000000"));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/install/tree", Fixture, NULL, setup, test_tree, teardown);
  g_test_add ("/install/pkg-config-consumer", Fixture, NULL, setup, test_pkg_config_consumer, teardown);
  return g_test_run ();
}
