/* braid — runs a fuzz target as a plain test: every file of its corpus,
 * then seeded mutations of them (byte flips, inserts, deletes, splices of
 * protocol words), so the suite explores beyond the corpus on every run
 * and --seed reproduces what it found. */
#include <glib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

/* Mutations per run, shared among the corpus files (at least
 * MUTATIONS_MIN each), so a corpus grown by `tools/braid-dev fuzz` keeps
 * the plain test quick. */
#define MUTATIONS_TOTAL 20000
#define MUTATIONS_MIN 20

static const gchar *words[] = {
  "get ", "gets ", "set ", "add ", "cas ", "incr ", "decr ", "delete ", "touch ", "gat ",
  "flush_all", "stats", "noreply", " 0 ", " -1 ", " 18446744073709551615 ", "\r\n", "\n",
  " 4294967296 ", "debugtime 1\r\n", "quit\r\n", "\x00", "\xff", "VALUE ",
};

static void
insert_bytes (GByteArray *out, guint pos, const guint8 *data, guint len)
{
  guint old = out->len;

  g_byte_array_set_size (out, old + len);
  memmove (out->data + pos + len, out->data + pos, old - pos);
  memcpy (out->data + pos, data, len);
}

static GBytes *
mutate (GRand *rand, const guint8 *data, gsize size)
{
  GByteArray *out = g_byte_array_new ();
  guint n = (guint) g_rand_int_range (rand, 1, 6);

  g_byte_array_append (out, data, (guint) size);
  for (guint i = 0; i < n; i++)
    {
      guint pos = out->len > 0 ? (guint) g_rand_int_range (rand, 0, (gint32) out->len + 1) : 0;

      switch (g_rand_int_range (rand, 0, 4))
        {
        case 0:
          if (pos < out->len)
            out->data[pos] = (guint8) g_rand_int_range (rand, 0, 256);
          break;
        case 1:
          {
            guint span = (guint) g_rand_int_range (rand, 1, 8);

            if (pos < out->len)
              g_byte_array_remove_range (out, pos, MIN (out->len - pos, span));
            break;
          }
        case 2:
          {
            const gchar *w = words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))];
            gsize wlen = w[0] == '\0' ? 1 : strlen (w);

            insert_bytes (out, pos, (const guint8 *) w, (guint) wlen);
            break;
          }
        default:
          {
            guint8 b = (guint8) g_rand_int_range (rand, 0, 256);

            insert_bytes (out, pos, &b, 1);
          }
        }
    }
  return g_byte_array_free_to_bytes (out);
}

static void
test_corpus (gconstpointer data)
{
  const gchar *dir = data;
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) g_test_rand_int ());
  const gchar *name;
  guint files = 0, n_files = 0, per_file;

  g_test_summary ("The fuzz target survives its corpus and seeded mutations of it without a crash, "
                  "an assertion or (under ASan) a memory error");
  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n_files++;
  g_dir_rewind (d);
  per_file = MAX (MUTATIONS_MIN, MUTATIONS_TOTAL / MAX (n_files, 1));
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      g_autofree gchar *contents = NULL;
      gsize len;

      if (!g_file_get_contents (path, &contents, &len, NULL))
        continue;
      files++;
      LLVMFuzzerTestOneInput ((const guint8 *) contents, len);
      for (guint i = 0; i < per_file; i++)
        {
          g_autoptr(GBytes) m = mutate (rand, (const guint8 *) contents, len);
          gsize mlen;
          const guint8 *mdata = g_bytes_get_data (m, &mlen);

          LLVMFuzzerTestOneInput (mdata, mlen);
        }
    }
  g_assert_cmpuint (files, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert (argc >= 2);
  g_test_add_data_func ("/fuzz/corpus", argv[argc - 1], test_corpus);
  return g_test_run ();
}
